/**
 * `createTestHarness`: handler tests on a real Phaseline, with time under the test's control.
 */
import type { Job } from '../engine/job-types.ts';
import { InvalidInputError } from '../errors.ts';
import { engineOf } from '../internal.ts';
import { createPhaseline } from '../phaseline.ts';
import type { Workers } from '../runner/options.ts';
import { HarnessError, HarnessTimeoutError, type DrainOptions, type DrainReport, type HarnessOptions, type TestHarness } from './harness-types.ts';
import { createManualClock } from './manual-clock.ts';
import { recordEvents, type RecordedEvent } from './recorder.ts';

/** The workers look for work this often while draining (real ms). */
const POLL_MS = 1;
/** Idle rounds of the workers, with no transition between them, that show nothing more is due. */
const QUIET_ROUNDS = 3;

/**
 * A Phaseline for handler tests, on a private `:memory:` database, whose engine reads a manual
 * clock (`harness.clock`): advancing it is what makes a retry, a delayed job or a destruction due,
 * deterministically, whatever the wall clock does.
 *
 * Handlers run only inside `drain()` and `waitFor()`. Each starts the real runner (the handler
 * context, leases, final writes and the sweeper as in production), polling every millisecond, and
 * stops it again once the workers have gone idle three rounds in a row with no
 * transition between: nothing claimable is left at the clock's instant and maintenance found
 * nothing to do. So a test that enqueues, advances the clock and drains sees the same transitions,
 * in the same order, every run: with the default concurrency of 1 the jobs run one at a time in
 * claim order (priority, then id), and backoff jitter is a constant. (Lease ids, and so the
 * `actor` of claims in the history, are random.)
 *
 * Leases are honest, not simulated: the runner judges a lease expired when its record has stayed
 * unchanged for the lease's duration on the process's monotonic clock (`performance.now()`), which
 * the harness does not control. Advancing the manual clock never expires a lease, never fires an
 * execution-duration TIMEOUT and never ends a cancellation grace period: those take real time
 * (`runner.leaseMs`, the job's `executionDuration`, `runner.cancelGraceMs`; set them small to
 * test them). A handler that never returns keeps its lease, and `drain` times out naming its job;
 * stopping the workers then releases the job back to the queue.
 */
export function createTestHarness(options: HarnessOptions = {}): TestHarness {
  const clock = createManualClock(options.start ?? Date.UTC(2026, 0, 1));
  const concurrency = options.concurrency ?? 1;
  const defaultTimeout = options.timeoutMs ?? 10_000;
  const phaseline = createPhaseline({ file: ':memory:', lifecycles: options.lifecycles ?? [], clock: () => clock.now() });
  for (const type of options.types ?? []) phaseline.register(type);
  const engine = engineOf(phaseline);

  let idleRounds = 0;
  let poke: (() => void) | null = null;
  /** Watchers of the events as they come (a waitFor's). */
  const watchers = new Set<(event: RecordedEvent) => void>();
  const wake = () => {
    const resolve = poke;
    poke = null;
    resolve?.();
  };
  const events = recordEvents(phaseline, () => clock.now(), (event: RecordedEvent) => {
    // A write or a deletion is work done: the workers must go quiet again after it.
    if (event.name === 'job:transition' || event.name === 'job:deleted' || event.name === 'job:lease-lost') idleRounds = 0;
    for (const watch of watchers) watch(event);
    wake();
  });
  phaseline.on('runner:idle', () => {
    idleRounds++;
    wake();
  });

  let workers: Workers | null = null;
  let closed = false;

  /** Whether a job of a registered type is claimable at the clock's instant (the workers claim no other). */
  const due = () => {
    const types = phaseline.jobTypes().map((t) => t.name);
    return types.length > 0 && engine.claimableIds(clock.now(), 1, types).length > 0;
  };

  /** Run the workers until `stop()` says so or everything due has run; returns whether `stop` said so. */
  async function drive(stop: () => boolean, timeoutMs: number, what: string): Promise<boolean> {
    if (closed) throw new HarnessError(`${what}: the harness is closed`);
    if (workers) throw new HarnessError(`${what}: another drain or waitFor is running; await it first`);
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidInputError('timeoutMs', 'must be a number of milliseconds above 0');
    idleRounds = 0;
    workers = phaseline.start({ concurrency, pollIntervalMs: POLL_MS, workerId: 'harness', random: () => 0.5, ...options.runner });
    const deadline = performance.now() + timeoutMs;
    let matched = false;
    try {
      for (;;) {
        if (stop()) {
          matched = true;
          break;
        }
        if (idleRounds >= QUIET_ROUNDS && workers.activeJobIds.length === 0 && !due()) break;
        const left = deadline - performance.now();
        if (left <= 0) {
          const running = workers.activeJobIds;
          const states = running.map((id) => `${id} (${engine.find(id)?.state ?? 'gone'})`);
          throw new HarnessTimeoutError(
            `${what}: still busy after ${timeoutMs} ms${running.length > 0 ? `: the handler of job ${states.join(', job ')} has not returned` : ''}. ` +
              'The manual clock does not expire leases or execution durations (they run on the real monotonic clock); the job is released back to the queue.',
            running,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 50));
          poke = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      poke = null;
      const stopping = workers;
      // Handlers still running finish (a matched waitFor) or are released (a timeout).
      await phaseline.stop(matched ? Math.max(0, deadline - performance.now()) : 0);
      if (workers === stopping) workers = null;
    }
    return matched;
  }

  return {
    phaseline,
    clock,
    events,
    async drain(drainOptions: DrainOptions = {}): Promise<DrainReport> {
      const started = performance.now();
      const before = events.of('job:transition').length;
      await drive(() => false, drainOptions.timeoutMs ?? defaultTimeout, 'drain');
      return { transitions: events.of('job:transition').length - before, ms: Math.round(performance.now() - started) };
    },
    async waitFor(id: number, predicate: (job: Job) => boolean, drainOptions: DrainOptions = {}): Promise<Job> {
      let job = await phaseline.get(id);
      if (predicate(job)) return job;
      let outcome: 'matched' | 'deleted' | null = null;
      const watch = (event: RecordedEvent) => {
        if (outcome !== null) return;
        if (event.name === 'job:deleted' && event.payload.jobIds.includes(id)) outcome = 'deleted';
        if (event.name === 'job:transition' && event.payload.job.id === id) {
          job = event.payload.job;
          if (predicate(job)) outcome = 'matched';
        }
      };
      watchers.add(watch);
      try {
        await drive(() => outcome !== null, drainOptions.timeoutMs ?? defaultTimeout, `waitFor(${id})`);
      } finally {
        watchers.delete(watch);
      }
      if (outcome === 'deleted') throw new HarnessError(`waitFor(${id}): the job was deleted`);
      if (outcome === null) {
        throw new HarnessError(
          `waitFor(${id}): nothing more is due at ${new Date(clock.now()).toISOString()} and the job (${job.state}, version ${job.version}) does not match; advance the clock?`,
        );
      }
      return job;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await phaseline.close(0);
    },
  };
}
