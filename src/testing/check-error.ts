/**
 * The error `checkLifecycle` throws when a sequence breaks a rule: the rule, the shrunk sequence
 * that breaks it, and the seed and path that repeat it.
 */
import type { Json } from '../../machines/common.ts';
import type { CheckStep } from './check-types.ts';
import { LifecycleTestError } from './errors.ts';
import { show } from './json.ts';
import { RULES, type RuleId } from './rules.ts';

/** What a failed check found. */
export interface LifecycleCheckFailure {
  lifecycle: string;
  version: number;
  rule: RuleId;
  /** What was seen, e.g. `50 → 25 percent in attempt 1`. */
  detail: string;
  /** The shrunk sequence, up to and including the event that broke the rule. */
  events: CheckStep[];
  /** Whether the job was created with its lifecycle's start events. */
  start: boolean;
  /** The job's parameters. */
  params: Json;
  seed: number;
  /** fast-check's path of the counterexample: `checkLifecycle(lifecycle, { seed, path })` runs it alone. */
  path: string;
  /** Sequences run before the first failure, and shrinking steps after it. */
  runs: number;
  shrinks: number;
}

/** A rule broken by a random sequence, with the shrunk sequence and how to repeat it. */
export class LifecycleCheckError extends LifecycleTestError implements LifecycleCheckFailure {
  override name = 'LifecycleCheckError';
  readonly rule: RuleId;
  readonly detail: string;
  readonly events: CheckStep[];
  readonly start: boolean;
  readonly params: Json;
  readonly seed: number;
  readonly path: string;
  readonly runs: number;
  readonly shrinks: number;

  constructor(failure: LifecycleCheckFailure) {
    super(failure.lifecycle, failure.version, messageOf(failure));
    this.rule = failure.rule;
    this.detail = failure.detail;
    this.events = failure.events;
    this.start = failure.start;
    this.params = failure.params;
    this.seed = failure.seed;
    this.path = failure.path;
    this.runs = failure.runs;
    this.shrinks = failure.shrinks;
  }
}

function messageOf(f: LifecycleCheckFailure): string {
  const steps = f.events.map((step, i) => {
    const move = step.clockMove === 0 ? '' : ` (clock ${step.clockMove > 0 ? '+' : ''}${step.clockMove} ms)`;
    return `  ${i + 1}. ${show(step.event)}${move} → ${step.outcome}`;
  });
  return [
    `${f.lifecycle}@${f.version} breaks ${f.rule}: ${RULES[f.rule]}`,
    `  ${f.detail}`,
    `after ${f.events.length} event${f.events.length === 1 ? '' : 's'} (shrunk in ${f.shrinks} steps, failed at run ${f.runs}) on a job created ${f.start ? 'with' : 'without'} its start events, params ${show(f.params)}:`,
    ...steps,
    `repeat: checkLifecycle(lifecycle, { seed: ${f.seed}, path: ${JSON.stringify(f.path)} })`,
  ].join('\n');
}
