/**
 * Phaseline's public surface: the facade, job types, lifecycles and errors. The HTTP layer is
 * `phaseline/http`, the wire models `phaseline/views`, the built-in machines also `phaseline/machines`.
 *
 * Every type named here comes from a module that names no store or driver type, so a consumer's
 * type-check never reaches into the SQLite driver or Drizzle.
 */
export {
  Phaseline, createPhaseline,
  type PhaselineOptions, type EnqueueOptions, type OwnerOption, type GetOptions, type ParamsOf, type ResultOf, type StartOptions,
} from './phaseline.ts';
export { defineJobType, type AnyJobType, type JobType, type JobTypeDefinition, type Backoff, type RateLimit, type ParamsValidator, type StandardSchemaLike } from './jobtypes.ts';
export type { HandlerContext, ChildOutcome, SpawnOptions } from './runner/context.ts';
export type { Schedule, ScheduleOptions, MissedPolicy } from './schedules/types.ts';
export type { Parked, WaitRecord, SignalRecord, SpawnedChild, DependencyOutcome } from './engine/parking.ts';
export type { RunnerOptions, SweepOptions, Workers } from './runner/options.ts';
export type { AnyJob, Job, JobEvent, JobFields } from './engine/job-types.ts';
export type { ListFilter, CountFilter, StateCount, SendOptions, Clock } from './engine/types.ts';
export type {
  JobReplay, ReplaySummary, Divergence, DivergenceCause, DivergenceGroup, ParallelReplayOptions, HistoryReplayReport,
  StoredHistory, StoredJob, StoredEvent, UpgradeOptions, UpgradeReport,
} from './replay/types.ts';
export { HISTORY_FORMAT } from './replay/types.ts';
export { replayHistories, type ReplayHistoriesOptions } from './replay/histories.ts';
export type { PhaselineEventMap, PhaselineEventName, Listener } from './events.ts';
export type { Logger, LogFn } from './logger.ts';
export { LifecycleRegistry, validateLifecycle, checkTagContract } from './engine/lifecycles.ts';
export * from './errors.ts';
export * from '../machines/index.ts';
