/**
 * Parking: a running job whose handler sleeps (`ctx.sleep`) or waits for a signal (`ctx.waitFor`)
 * gives its lease and worker slot back, keeps its lifecycle state (UWS EXECUTING, RIME
 * JOB_STATUS_RUNNING, EcoTaxa R...) and is taken up again by a claim at its wake instant.
 *
 * Why the engine's own events and not the machines': parking is the same for every lifecycle and
 * does not change any machine's state, only three context fields no machine reads (`parked`,
 * `waits`, `signals`). Like `UPGRADE`, the events below are answered here, by the tags of the
 * job's state (the tag contract), never by a machine, so no built-in machine changes how it
 * answers any event (no new version: every stored history replays as before), and every lifecycle,
 * built-in, made with `defineLifecycle` or written with `setup()`, gets them at once. Registration
 * refuses a machine that names one of them itself.
 *
 * - `SLEEP { until, index }`: in a running state (not `validating`), not parked. Records the
 *   handler's `index`-th durable wait as a sleep until `until` (kept when it is recorded already:
 *   a handler re-entered before its wake instant parks again on the same instant) and parks the job
 *   while `until` lies ahead.
 * - `WAIT { signal, until, index }`: likewise, for a signal named `signal` (`until` null: no
 *   timeout). A signal that came earlier and no wait has taken is taken now (no park); a wait
 *   whose instant has passed times out at once; else the job parks, claimable at `until` if any.
 * - `SIGNAL { name, payload }`: in any state not tagged terminal. Resolves the wait that parked the
 *   job when it waits for that name (the job is claimable at once); else it is kept, in order, for
 *   a later wait of that name.
 * - `WAKE`: written by a claim on a parked job that is due: it takes the lease like a CLAIM, in the
 *   same state, the same attempt. A signal wait still open then has timed out.
 *
 * The row follows from the snapshot ({@link parkingOf}, used by deriveRow): a parked job is not
 * `running` (no handler holds it, no lease, no worker slot, no lease recovery) and is `claimable`
 * from its wake instant on (at once when cancellation was asked, so that a worker ends it). Replay
 * folds these events through the same functions, so a history with them rebuilds its row exactly.
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import type { JobContext, Json } from '../../machines/common.ts';

/**
 * The engine's own parking events (reserved: a lifecycle's machine may not name them), and those
 * of dependencies ({@link DEPENDENCY_EVENTS}).
 */
export const PARKING_EVENTS = ['SLEEP', 'WAIT', 'SIGNAL', 'WAKE', 'BLOCK', 'DEPENDENT', 'UNBLOCK'] as const;
/**
 * Dependencies (`enqueue(type, params, { dependsOn })`), answered here like the parking events:
 * - `BLOCK { on }`: written with a new job's creation, in the same transaction: the dependencies
 *   still unfinished then. While any is left the job is not claimable, whatever its state.
 * - `DEPENDENT { id }`: written on each of those dependencies in that transaction: job `id` waits for it.
 * - `UNBLOCK { id, state, outcome }`: written on a waiting job in the transaction where its
 *   dependency `id` ends (whatever its outcome); the last one makes the job claimable.
 * No claim scans for blocked jobs: a blocked job's row is not claimable, so the claim index never holds it.
 */
export const DEPENDENCY_EVENTS = ['BLOCK', 'DEPENDENT', 'UNBLOCK'] as const;
export type ParkingEventType = (typeof PARKING_EVENTS)[number];

/** Why and until when a job is parked. */
export interface Parked {
  /** When a claim takes it up again; null: only a signal (or a cancellation) wakes it. */
  wakeAt: number | null;
  /** The signal it waits for, or null for a sleep. */
  signal: string | null;
  /** The wait record (in `waits`) that parked it. */
  index: number;
}

/** One durable wait of a handler, in the order it made them: its k-th `sleep`/`waitFor` is the k-th. */
export type WaitRecord =
  | { kind: 'sleep'; until: number }
  | {
      kind: 'signal';
      name: string;
      until: number | null;
      /** `pending` while it waits; `signal` with the payload and its instant; `timeout`. */
      outcome: 'pending' | 'signal' | 'timeout';
      payload?: Json;
      at?: number;
    };

/** A signal that came before any wait took it. */
export interface SignalRecord {
  name: string;
  payload: Json;
  at: number;
}

/** The context fields parking owns; absent on jobs that never parked (so old histories replay byte for byte). */
export interface ParkingContext {
  parked?: Parked | null;
  waits?: WaitRecord[];
  signals?: SignalRecord[];
  /** Dependencies not yet ended (`enqueue(..., { dependsOn })`): the job is not claimable while any is left. */
  blockedBy?: number[];
  /** Jobs waiting for this one to end. */
  dependents?: number[];
  /** How each dependency that ended after the job's creation ended, in the order they ended. */
  dependencies?: DependencyOutcome[];
}

/** How a dependency ended, as the job waiting for it records it. */
export interface DependencyOutcome {
  id: number;
  state: string;
  /** null: the dependency was deleted before it ended. */
  outcome: 'succeeded' | 'failed' | 'cancelled' | null;
}

/** Whether a context still waits for a dependency. */
export function isBlocked(context: unknown): boolean {
  return ((context as ParkingContext).blockedBy?.length ?? 0) > 0;
}

/** The jobs a context says wait for it to end. */
export function dependentsOf(context: unknown): number[] {
  return (context as ParkingContext).dependents ?? [];
}

const RESERVED = new Set<string>(PARKING_EVENTS);

export function isParkingEvent(type: string): type is ParkingEventType {
  return RESERVED.has(type);
}

/** The parking of a snapshot's job: set only while its state is tagged running. */
export function parkingOf(snapshot: AnyMachineSnapshot): Parked | null {
  const parked = (snapshot.context as ParkingContext).parked;
  return parked && snapshot.hasTag('running') ? parked : null;
}

/** The wait records of a context (none when it never waited). */
export function waitsOf(context: unknown): WaitRecord[] {
  return (context as ParkingContext).waits ?? [];
}

/** The signals a context keeps for later waits. */
export function signalsOf(context: unknown): SignalRecord[] {
  return (context as ParkingContext).signals ?? [];
}

/**
 * The snapshot after a parking event at instant `at`, or null when the job's state refuses it
 * (nothing is then written). `event` holds the payload already checked by validateEvent.
 */
export function parkingTransition(
  machine: AnyStateMachine,
  snapshot: AnyMachineSnapshot,
  event: { type: string; at: number } & Record<string, unknown>,
): AnyMachineSnapshot | null {
  const context = snapshot.context as JobContext & ParkingContext;
  const running = snapshot.hasTag('running') && !snapshot.hasTag('validating');
  const parked = parkingOf(snapshot);
  const waits = waitsOf(context);
  const at = event.at;
  let next: (JobContext & ParkingContext) | null = null;
  switch (event.type) {
    case 'SLEEP': {
      if (!running || parked) return null;
      const until = event.until as number;
      const index = event.index as number;
      const known = waits[index];
      if (index > waits.length) return null;
      if (known && (known.kind !== 'sleep' || known.until !== until)) return null;
      const recorded = known ? waits : [...waits, { kind: 'sleep' as const, until }];
      next = { ...context, waits: recorded, parked: until > at ? { wakeAt: until, signal: null, index } : null };
      break;
    }
    case 'WAIT': {
      if (!running || parked) return null;
      const name = event.signal as string;
      const until = (event.until ?? null) as number | null;
      const index = event.index as number;
      const known = waits[index];
      if (index > waits.length) return null;
      if (known && (known.kind !== 'signal' || known.name !== name || known.until !== until || known.outcome !== 'pending')) return null;
      const signals = signalsOf(context);
      const taken = signals.findIndex((s) => s.name === name);
      let record: WaitRecord;
      let park: Parked | null = null;
      if (taken >= 0) {
        const signal = signals[taken]!;
        record = { kind: 'signal', name, until, outcome: 'signal', payload: signal.payload, at: signal.at };
      } else if (until !== null && until <= at) {
        record = { kind: 'signal', name, until, outcome: 'timeout', at };
      } else {
        record = { kind: 'signal', name, until, outcome: 'pending' };
        park = { wakeAt: until, signal: name, index };
      }
      next = {
        ...context,
        waits: known ? waits.map((w, i) => (i === index ? record : w)) : [...waits, record],
        parked: park,
      };
      if (taken >= 0) next.signals = signals.filter((_s, i) => i !== taken);
      break;
    }
    case 'SIGNAL': {
      if (snapshot.hasTag('terminal')) return null;
      const name = event.name as string;
      const payload = (event.payload ?? null) as Json;
      if (parked && parked.signal === name) {
        const record: WaitRecord = { kind: 'signal', name, until: parked.wakeAt, outcome: 'signal', payload, at };
        next = {
          ...context,
          waits: waits.map((w, i) => (i === parked.index ? record : w)),
          // Due now: the next claim takes it up with the payload.
          parked: { ...parked, wakeAt: at, signal: null },
        };
      } else {
        next = { ...context, signals: [...signalsOf(context), { name, payload, at }] };
      }
      break;
    }
    case 'WAKE': {
      if (!parked) return null;
      const due = (parked.wakeAt !== null && parked.wakeAt <= at) || context.cancelRequested;
      if (!due) return null;
      const open = waits[parked.index];
      next = { ...context, parked: null };
      if (open?.kind === 'signal' && open.outcome === 'pending' && parked.wakeAt !== null && parked.wakeAt <= at) {
        next.waits = waits.map((w, i) => (i === parked.index ? { ...open, outcome: 'timeout' as const, at } : w));
      }
      break;
    }
    case 'BLOCK': {
      if (snapshot.hasTag('terminal') || context.blockedBy !== undefined) return null;
      next = { ...context, blockedBy: [...(event.on as number[])] };
      break;
    }
    case 'DEPENDENT': {
      if (snapshot.hasTag('terminal')) return null;
      const id = event.id as number;
      const dependents = context.dependents ?? [];
      if (dependents.includes(id)) return null;
      next = { ...context, dependents: [...dependents, id] };
      break;
    }
    case 'UNBLOCK': {
      const id = event.id as number;
      const blockedBy = context.blockedBy ?? [];
      if (snapshot.hasTag('terminal') || !blockedBy.includes(id)) return null;
      const outcome: DependencyOutcome = { id, state: event.state as string, outcome: (event.outcome ?? null) as DependencyOutcome['outcome'] };
      next = { ...context, blockedBy: blockedBy.filter((b) => b !== id), dependencies: [...(context.dependencies ?? []), outcome] };
      break;
    }
    default:
      return null;
  }
  return machine.resolveState({ value: snapshot.value as never, context: next as never }) as AnyMachineSnapshot;
}

/**
 * After a machine's own transition: a parked job that left its running state (UWS HOLD or SUSPEND,
 * a cancellation that ends it) is parked no more; its open wait stays recorded, so the handler,
 * re-entered later, parks again on the same instant. A job that leaves a terminal state (EcoTaxa
 * RESTART) runs from the beginning: its waits and kept signals are forgotten, as its steps are.
 */
export function settleParking(machine: AnyStateMachine, before: AnyMachineSnapshot, after: AnyMachineSnapshot): AnyMachineSnapshot {
  const context = after.context as ParkingContext;
  if (context.parked === undefined && context.waits === undefined && context.signals === undefined) return after;
  let next: ParkingContext | null = null;
  if (context.parked && !after.hasTag('running')) next = { ...context, parked: null };
  if (before.hasTag('terminal') && !after.hasTag('terminal') && (context.waits?.length || context.signals?.length)) {
    next = { ...(next ?? context), parked: null, waits: [], signals: [] };
  }
  return next ? (machine.resolveState({ value: after.value as never, context: next as never }) as AnyMachineSnapshot) : after;
}

/** The machine's answer to an event, or the engine's for a parking event: null when refused. */
export function applyEvent(
  machine: AnyStateMachine,
  snapshot: AnyMachineSnapshot,
  event: { type: string; at: number } & Record<string, unknown>,
  transition: (machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: { type: string; at: number }) => AnyMachineSnapshot,
): AnyMachineSnapshot | null {
  if (isParkingEvent(event.type)) return parkingTransition(machine, snapshot, event);
  const after = transition(machine, snapshot, event);
  return after === snapshot ? null : settleParking(machine, snapshot, after);
}

/**
 * Child jobs (`ctx.spawn`, `ctx.join`): a child carries its parent in its idempotency key,
 * `child:<parentId>:<name>` (reserved: enqueue refuses it). When a child ends, the engine signals
 * its parent, `child:<childId>`, in the same transaction as the child's ending transition, so the
 * parent's join can never miss it, whatever crashes.
 */
export const CHILD_KEY_PREFIX = 'child:';

export function childKey(parentId: number, name: string): string {
  return `${CHILD_KEY_PREFIX}${parentId}:${name}`;
}

/** The parent of a job whose idempotency key names one, else null. */
export function parentOf(idempotencyKey: string | null): number | null {
  if (idempotencyKey === null || !idempotencyKey.startsWith(CHILD_KEY_PREFIX)) return null;
  const id = Number(/^child:(\d+):/.exec(idempotencyKey)?.[1]);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** The signal a parent gets when its child ends. */
export function childSignal(childId: number): string {
  return `child:${childId}`;
}

/** The step name under which a parent records a child (`ctx.spawn(name, ...)`). */
export const SPAWN_STEP_PREFIX = 'spawn:';

/** A child as its parent's spawn step records it. */
export interface SpawnedChild {
  id: number;
  /** False when spawned with `{ cancelWithParent: false }`: cancelling the parent leaves it be. */
  cancelWithParent: boolean;
}

/**
 * A spawn step's result: the child's id, or `{ id, cancelWithParent: false }` for a child that
 * outlives its parent's cancellation; null for anything else.
 */
export function spawnedChild(result: unknown): SpawnedChild | null {
  if (typeof result === 'number') return Number.isSafeInteger(result) && result > 0 ? { id: result, cancelWithParent: true } : null;
  if (typeof result === 'object' && result !== null && typeof (result as { id?: unknown }).id === 'number') {
    return { id: (result as { id: number }).id, cancelWithParent: (result as { cancelWithParent?: unknown }).cancelWithParent !== false };
  }
  return null;
}

/** The children a job's context records (its spawn steps), in the order spawned. */
export function childrenOf(context: unknown): SpawnedChild[] {
  const steps = (context as { steps?: Record<string, unknown> }).steps ?? {};
  const children: SpawnedChild[] = [];
  for (const name in steps) {
    if (!name.startsWith(SPAWN_STEP_PREFIX)) continue;
    const child = spawnedChild(steps[name]);
    if (child) children.push(child);
  }
  return children;
}
