/** Phaseline's public surface. */
export { Phaseline, createPhaseline, type PhaselineOptions, type EnqueueOptions, type OwnerOption } from './phaseline.ts';
export { defineJobType, type AnyJobType, type JobType, type JobTypeDefinition, type Backoff, type ParamsValidator, type StandardSchemaLike } from './jobtypes.ts';
export type { HandlerContext } from './runner/context.ts';
export type { RunnerOptions } from './runner/runner.ts';
export type { SweepOptions } from './runner/sweeper.ts';
export type { Job, JobEvent } from './engine/job.ts';
export type { ListFilter, SendOptions, Clock } from './engine/engine.ts';
export type { JobReplay, ReplaySummary, Divergence } from './replay/replay.ts';
export type { ParallelReplayOptions } from './replay/parallel.ts';
export type { PhaselineEventMap, PhaselineEventName } from './events.ts';
export { LifecycleRegistry, checkTagContract } from './engine/lifecycles.ts';
export * from './errors.ts';
export * from '../machines/index.ts';
