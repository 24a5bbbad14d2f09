/**
 * The expected transition table of each built-in lifecycle, written from the source systems' documented
 * behaviour and the machines' doc comments (not read off the machines), as one matrix per lifecycle:
 * rows are events, columns are situations (a state, plus "a cancel was requested" where a guard
 * reads that flag), and each cell is the state the event leads to, or `-` when it is refused.
 *
 * machines.table.test.ts checks the machines against these matrices cell by cell;
 * engine.properties.test.ts uses them as the model of which events a job accepts.
 */
import type { AnyMachineSnapshot } from 'xstate';
import type { EngineTag, Lifecycle } from '../../machines/common.ts';
import { COMMON_EVENT_TYPES } from '../../machines/common.ts';
import { builtInLifecycles } from '../../machines/index.ts';
import { statePathOf } from '../../src/testing/machine-facts.ts';
import { COMMAND_TYPES, EVENT_KEYS, eventKeyOf as keyOf, type EventKey } from '../../src/testing/vocabulary.ts';

// The rows of the tables are the keys of phaseline/testing's vocabulary: each event type, and for
// a guarded event the variant that flips its guard (`+retry`: with `retryAt`, which asks for
// another attempt; `+params`: a SET that edits the parameters). One sample event per key is
// SAMPLE_EVENTS there.
export { COMMAND_TYPES, EVENT_KEYS, SAMPLE_EVENTS, type EventKey } from '../../src/testing/vocabulary.ts';
export { leafPaths } from '../../src/testing/machine-facts.ts';

/** The row an event falls in (an event of a type no table knows has no row: refused everywhere). */
export function eventKeyOf(event: { type: string } & Record<string, unknown>): EventKey | null {
  const key = keyOf(event);
  return (EVENT_KEYS as readonly string[]).includes(key) ? (key as EventKey) : null;
}

export interface Situation {
  /** Column label: the state path, and `+cancel` when a cancel has been requested. */
  label: string;
  /** Full state path, e.g. `E.killed`, `PROCESSING.running`. */
  path: string;
  /** The wire spelling: the top-level state. */
  top: string;
  cancelRequested: boolean;
  /** Events (rows) that lead there from the machine's initial state. */
  reach: readonly EventKey[];
  /** The engine tags the state carries, exactly. */
  tags: readonly EngineTag[];
}

export interface LifecycleTable {
  lifecycle: Lifecycle;
  situations: readonly Situation[];
  /** Expected state path after the event, or null when the event is refused. */
  next(label: string, key: EventKey): string | null;
  /** The column a job's state and cancel flag select. */
  labelOf(path: string, cancelRequested: boolean): string;
  /** The expected tags of a state path. */
  tagsOf(path: string): readonly EngineTag[];
}

interface TableSpec {
  /** From a column label (without `+cancel`) to its state path. Identity by default. */
  pathOf?: (label: string) => string;
  situations: Record<string, { reach: readonly EventKey[]; tags: readonly EngineTag[] }>;
  /** One whitespace-separated row of cells per event, in the order of `situations`. */
  matrix: Record<EventKey, string>;
}

function defineTable(lifecycle: Lifecycle, spec: TableSpec): LifecycleTable {
  const pathOf = spec.pathOf ?? ((label: string) => label);
  const situations: Situation[] = Object.entries(spec.situations).map(([label, s]) => {
    const base = label.replace(/\+cancel$/, '');
    const path = pathOf(base);
    return { label, path, top: path.split('.')[0]!, cancelRequested: label !== base, reach: s.reach, tags: s.tags };
  });
  const labels = situations.map((s) => s.label);
  const targets = new Set(situations.filter((s) => !s.cancelRequested).map((s) => s.label));
  const cells = new Map<string, string | null>();
  for (const key of EVENT_KEYS) {
    const row = spec.matrix[key];
    if (row === undefined) throw new Error(`${lifecycle.name} table: no row for ${key}`);
    const values = row.trim().split(/\s+/);
    if (values.length !== labels.length) {
      throw new Error(`${lifecycle.name} table: row ${key} has ${values.length} cells for ${labels.length} columns`);
    }
    values.forEach((cell, i) => {
      if (cell !== '-' && !targets.has(cell)) throw new Error(`${lifecycle.name} table: row ${key}: unknown state ${cell}`);
      cells.set(`${labels[i]}|${key}`, cell === '-' ? null : pathOf(cell));
    });
  }
  const tagsByPath = new Map(situations.map((s) => [s.path, s.tags]));
  return {
    lifecycle,
    situations,
    next(label, key) {
      const cell = cells.get(`${label}|${key}`);
      if (cell === undefined) throw new Error(`${lifecycle.name} table: no cell ${label} × ${key}`);
      return cell;
    },
    labelOf(path, cancelRequested) {
      const withCancel = `${situations.find((s) => s.path === path && !s.cancelRequested)?.label}+cancel`;
      if (cancelRequested && labels.includes(withCancel)) return withCancel;
      const plain = situations.find((s) => s.path === path && !s.cancelRequested);
      if (!plain) throw new Error(`${lifecycle.name} table: no column for state ${path}`);
      return plain.label;
    },
    tagsOf(path) {
      const tags = tagsByPath.get(path);
      if (!tags) throw new Error(`${lifecycle.name} table: no tags for state ${path}`);
      return tags;
    },
  };
}

/** `E.killed` for `{ E: 'killed' }`: the full path of a snapshot's (non-parallel) state. */
export function statePath(snapshot: AnyMachineSnapshot | { value: unknown }): string {
  return statePathOf(snapshot.value);
}

// EcoTaxa: P → R → (A | E | F); A → P on REPLY; E → P on RESTART;
// kill of P/R/A → E ("Killed"); F is final. Parameters are never edited.
export const ECOTAXA_TABLE = defineTable(builtInLifecycles.ecotaxa, {
  situations: {
    P: { reach: [], tags: ['queued'] },
    R: { reach: ['CLAIM'], tags: ['running'] },
    A: { reach: ['CLAIM', 'ASK'], tags: ['waiting'] },
    'E.error': { reach: ['CLAIM', 'FAIL'], tags: ['terminal', 'failed'] },
    'E.killed': { reach: ['KILL'], tags: ['terminal', 'cancelled'] },
    F: { reach: ['CLAIM', 'SUCCEED'], tags: ['terminal', 'succeeded'] },
  },
  matrix: {
    //                   P          R          A          E.error  E.killed  F
    CLAIM:              'R          -          -          -        -         -',
    PROGRESS:           '-          R          -          -        -         -',
    ASK:                '-          A          -          -        -         -',
    REPLY:              '-          -          P          -        -         -',
    CHECKPOINT:         '-          R          -          -        -         -',
    STEP:               '-          R          -          -        -         -',
    SUCCEED:            '-          F          -          -        -         -',
    FAIL:               '-          E.error    -          -        -         -',
    'FAIL+retry':       '-          P          -          -        -         -',
    CANCEL:             'E.killed   E.killed   E.killed   -        -         -',
    CANCEL_DONE:        '-          -          -          -        -         -',
    LEASE_LOST:         '-          E.error    -          -        -         -',
    'LEASE_LOST+retry': '-          P          -          -        -         -',
    TIMEOUT:            '-          E.error    -          -        -         -',
    'TIMEOUT+retry':    '-          P          -          -        -         -',
    RELEASE:            '-          P          -          -        -         -',
    SET:                'P          R          A          -        -         -',
    'SET+params':       '-          -          -          -        -         -',
    RUN:                '-          -          -          -        -         -',
    ABORT:              '-          -          -          -        -         -',
    HOLD:               '-          -          -          -        -         -',
    SUSPEND:            '-          -          -          -        -         -',
    RESUME:             '-          -          -          -        -         -',
    ARCHIVE:            '-          -          -          -        -         -',
    KILL:               'E.killed   E.killed   E.killed   -        -         -',
    RESTART:            '-          -          -          P        P         -',
    ADMIT:              '-          -          -          -        -         -',
    QUEUE:              '-          -          -          -        -         -',
    VALIDATED:          '-          -          -          -        -         -',
  },
});

// UWS 1.1: PENDING is a draft; RUN queues it (and re-queues HELD); the server
// may HOLD a PENDING, QUEUED or EXECUTING job and SUSPEND an EXECUTING one; exceeding the execution
// duration is an abort; terminal phases accept ARCHIVE (and SET of job-control values) only.
export const UWS_TABLE = defineTable(builtInLifecycles.uws, {
  situations: {
    PENDING: { reach: [], tags: [] },
    QUEUED: { reach: ['RUN'], tags: ['queued'] },
    EXECUTING: { reach: ['RUN', 'CLAIM'], tags: ['running'] },
    HELD: { reach: ['RUN', 'HOLD'], tags: ['waiting'] },
    SUSPENDED: { reach: ['RUN', 'CLAIM', 'SUSPEND'], tags: ['queued', 'waiting'] },
    COMPLETED: { reach: ['RUN', 'CLAIM', 'SUCCEED'], tags: ['terminal', 'succeeded'] },
    ERROR: { reach: ['RUN', 'CLAIM', 'FAIL'], tags: ['terminal', 'failed'] },
    ABORTED: { reach: ['ABORT'], tags: ['terminal', 'cancelled'] },
    'ARCHIVED.completed': { reach: ['RUN', 'CLAIM', 'SUCCEED', 'ARCHIVE'], tags: ['terminal', 'archived', 'succeeded'] },
    'ARCHIVED.error': { reach: ['RUN', 'CLAIM', 'FAIL', 'ARCHIVE'], tags: ['terminal', 'archived', 'failed'] },
    'ARCHIVED.aborted': { reach: ['ABORT', 'ARCHIVE'], tags: ['terminal', 'archived', 'cancelled'] },
  },
  matrix: {
    //                   PENDING  QUEUED     EXECUTING  HELD     SUSPENDED  COMPLETED           ERROR           ABORTED           ARCHIVED.completed ARCHIVED.error ARCHIVED.aborted
    CLAIM:              '-        EXECUTING  -          -        EXECUTING  -                   -               -                 -  -  -',
    PROGRESS:           '-        -          EXECUTING  -        -          -                   -               -                 -  -  -',
    ASK:                '-        -          -          -        -          -                   -               -                 -  -  -',
    REPLY:              '-        -          -          -        -          -                   -               -                 -  -  -',
    CHECKPOINT:         '-        -          EXECUTING  -        -          -                   -               -                 -  -  -',
    STEP:               '-        -          EXECUTING  -        -          -                   -               -                 -  -  -',
    SUCCEED:            '-        -          COMPLETED  -        -          -                   -               -                 -  -  -',
    FAIL:               'ERROR    ERROR      ERROR      -        -          -                   -               -                 -  -  -',
    'FAIL+retry':       'ERROR    ERROR      QUEUED     -        -          -                   -               -                 -  -  -',
    CANCEL:             'ABORTED  ABORTED    ABORTED    ABORTED  ABORTED    -                   -               -                 -  -  -',
    CANCEL_DONE:        '-        -          -          -        -          -                   -               -                 -  -  -',
    LEASE_LOST:         '-        -          ERROR      -        -          -                   -               -                 -  -  -',
    'LEASE_LOST+retry': '-        -          QUEUED     -        -          -                   -               -                 -  -  -',
    TIMEOUT:            '-        -          ABORTED    -        -          -                   -               -                 -  -  -',
    'TIMEOUT+retry':    '-        -          ABORTED    -        -          -                   -               -                 -  -  -',
    RELEASE:            '-        -          SUSPENDED  -        -          -                   -               -                 -  -  -',
    SET:                'PENDING  QUEUED     EXECUTING  HELD     SUSPENDED  COMPLETED           ERROR           ABORTED           -  -  -',
    'SET+params':       'PENDING  -          -          -        -          -                   -               -                 -  -  -',
    RUN:                'QUEUED   -          -          QUEUED   -          -                   -               -                 -  -  -',
    ABORT:              'ABORTED  ABORTED    ABORTED    ABORTED  ABORTED    -                   -               -                 -  -  -',
    HOLD:               'HELD     HELD       HELD       -        -          -                   -               -                 -  -  -',
    SUSPEND:            '-        -          SUSPENDED  -        -          -                   -               -                 -  -  -',
    RESUME:             '-        -          -          -        EXECUTING  -                   -               -                 -  -  -',
    ARCHIVE:            '-        -          -          -        -          ARCHIVED.completed  ARCHIVED.error  ARCHIVED.aborted  -  -  -',
    KILL:               '-        -          -          -        -          -                   -               -                 -  -  -',
    RESTART:            '-        -          -          -        -          -                   -               -                 -  -  -',
    ADMIT:              '-        -          -          -        -          -                   -               -                 -  -  -',
    QUEUE:              '-        -          -          -        -          -                   -               -                 -  -  -',
    VALIDATED:          '-        -          -          -        -          -                   -               -                 -  -  -',
  },
});

// RIME: REQUESTED → PENDING (ADMIT) → RUNNING → SUCCEEDED | FAILED | CANCELLED.
// Cancel of a job nobody runs ends it at once; of a running job it sets cancellationRequested, and
// CANCEL_DONE ends it. A cancel request also stops retries. Labels drop the `JOB_STATUS_` prefix.
// RELEASE of a cancel-requested job ends it cancelled: §7 says a job nobody runs is cancelled at
// once, and a released job is run by nobody. Synapse alike.
export const RIME_TABLE = defineTable(builtInLifecycles.rime, {
  pathOf: (label) => `JOB_STATUS_${label}`,
  situations: {
    REQUESTED: { reach: [], tags: [] },
    PENDING: { reach: ['ADMIT'], tags: ['queued'] },
    RUNNING: { reach: ['ADMIT', 'CLAIM'], tags: ['running'] },
    'RUNNING+cancel': { reach: ['ADMIT', 'CLAIM', 'CANCEL'], tags: ['running'] },
    SUCCEEDED: { reach: ['ADMIT', 'CLAIM', 'SUCCEED'], tags: ['terminal', 'succeeded'] },
    FAILED: { reach: ['ADMIT', 'CLAIM', 'FAIL'], tags: ['terminal', 'failed'] },
    CANCELLED: { reach: ['CANCEL'], tags: ['terminal', 'cancelled'] },
  },
  matrix: {
    //                   REQUESTED  PENDING    RUNNING    RUNNING+cancel  SUCCEEDED  FAILED  CANCELLED
    CLAIM:              '-          RUNNING    -          -               -          -       -',
    PROGRESS:           '-          -          RUNNING    RUNNING         -          -       -',
    ASK:                '-          -          -          -               -          -       -',
    REPLY:              '-          -          -          -               -          -       -',
    CHECKPOINT:         '-          -          RUNNING    RUNNING         -          -       -',
    STEP:               '-          -          RUNNING    RUNNING         -          -       -',
    SUCCEED:            '-          -          SUCCEEDED  SUCCEEDED       -          -       -',
    FAIL:               'FAILED     FAILED     FAILED     FAILED          -          -       -',
    'FAIL+retry':       'FAILED     FAILED     PENDING    FAILED          -          -       -',
    CANCEL:             'CANCELLED  CANCELLED  RUNNING    RUNNING         -          -       -',
    CANCEL_DONE:        '-          -          -          CANCELLED       -          -       -',
    LEASE_LOST:         '-          -          FAILED     FAILED          -          -       -',
    'LEASE_LOST+retry': '-          -          PENDING    FAILED          -          -       -',
    TIMEOUT:            '-          -          FAILED     FAILED          -          -       -',
    'TIMEOUT+retry':    '-          -          PENDING    FAILED          -          -       -',
    RELEASE:            '-          -          PENDING    CANCELLED       -          -       -',
    SET:                'REQUESTED  PENDING    RUNNING    RUNNING         -          -       -',
    'SET+params':       '-          -          -          -               -          -       -',
    RUN:                '-          -          -          -               -          -       -',
    ABORT:              '-          -          -          -               -          -       -',
    HOLD:               '-          -          -          -               -          -       -',
    SUSPEND:            '-          -          -          -               -          -       -',
    RESUME:             '-          -          -          -               -          -       -',
    ARCHIVE:            '-          -          -          -               -          -       -',
    KILL:               '-          -          -          -               -          -       -',
    RESTART:            '-          -          -          -               -          -       -',
    ADMIT:              'PENDING    -          -          -               -          -       -',
    QUEUE:              '-          -          -          -               -          -       -',
    VALIDATED:          '-          -          -          -               -          -       -',
  },
});

// Synapse: PROCESSING (queued | running, not on the wire) → COMPLETE | FAILED.
// A cancelled job ends FAILED (child `cancelled`); a running one only when CANCEL_DONE confirms it.
export const SYNAPSE_TABLE = defineTable(builtInLifecycles.synapse, {
  situations: {
    'PROCESSING.queued': { reach: [], tags: ['queued'] },
    'PROCESSING.running': { reach: ['CLAIM'], tags: ['running'] },
    'PROCESSING.running+cancel': { reach: ['CLAIM', 'CANCEL'], tags: ['running'] },
    COMPLETE: { reach: ['CLAIM', 'SUCCEED'], tags: ['terminal', 'succeeded'] },
    'FAILED.error': { reach: ['CLAIM', 'FAIL'], tags: ['terminal', 'failed'] },
    'FAILED.cancelled': { reach: ['CANCEL'], tags: ['terminal', 'cancelled'] },
  },
  matrix: {
    //                   PROCESSING.queued   PROCESSING.running  PROCESSING.running+cancel  COMPLETE  FAILED.error  FAILED.cancelled
    CLAIM:              'PROCESSING.running  -                   -                          -         -             -',
    PROGRESS:           '-                   PROCESSING.running  PROCESSING.running         -         -             -',
    ASK:                '-                   -                   -                          -         -             -',
    REPLY:              '-                   -                   -                          -         -             -',
    CHECKPOINT:         '-                   PROCESSING.running  PROCESSING.running         -         -             -',
    STEP:               '-                   PROCESSING.running  PROCESSING.running         -         -             -',
    SUCCEED:            '-                   COMPLETE            COMPLETE                   -         -             -',
    FAIL:               'FAILED.error        FAILED.error        FAILED.error               -         -             -',
    'FAIL+retry':       'FAILED.error        PROCESSING.queued   FAILED.error               -         -             -',
    CANCEL:             'FAILED.cancelled    PROCESSING.running  PROCESSING.running         -         -             -',
    CANCEL_DONE:        '-                   -                   FAILED.cancelled           -         -             -',
    LEASE_LOST:         '-                   FAILED.error        FAILED.error               -         -             -',
    'LEASE_LOST+retry': '-                   PROCESSING.queued   FAILED.error               -         -             -',
    TIMEOUT:            '-                   FAILED.error        FAILED.error               -         -             -',
    'TIMEOUT+retry':    '-                   PROCESSING.queued   FAILED.error               -         -             -',
    RELEASE:            '-                   PROCESSING.queued   FAILED.cancelled           -         -             -',
    SET:                'PROCESSING.queued   PROCESSING.running  PROCESSING.running         -         -             -',
    'SET+params':       '-                   -                   -                          -         -             -',
    RUN:                '-                   -                   -                          -         -             -',
    ABORT:              '-                   -                   -                          -         -             -',
    HOLD:               '-                   -                   -                          -         -             -',
    SUSPEND:            '-                   -                   -                          -         -             -',
    RESUME:             '-                   -                   -                          -         -             -',
    ARCHIVE:            '-                   -                   -                          -         -             -',
    KILL:               '-                   -                   -                          -         -             -',
    RESTART:            '-                   -                   -                          -         -             -',
    ADMIT:              '-                   -                   -                          -         -             -',
    QUEUE:              '-                   -                   -                          -         -             -',
    VALIDATED:          '-                   -                   -                          -         -             -',
  },
});

// Qiskit: INITIALIZING → QUEUED → VALIDATING → RUNNING → DONE | ERROR, and
// CANCELLED from every non-final state at once.
export const QISKIT_TABLE = defineTable(builtInLifecycles.qiskit, {
  situations: {
    INITIALIZING: { reach: [], tags: [] },
    QUEUED: { reach: ['QUEUE'], tags: ['queued'] },
    VALIDATING: { reach: ['QUEUE', 'CLAIM'], tags: ['running', 'validating'] },
    RUNNING: { reach: ['QUEUE', 'CLAIM', 'VALIDATED'], tags: ['running'] },
    DONE: { reach: ['QUEUE', 'CLAIM', 'VALIDATED', 'SUCCEED'], tags: ['terminal', 'succeeded'] },
    ERROR: { reach: ['QUEUE', 'CLAIM', 'FAIL'], tags: ['terminal', 'failed'] },
    CANCELLED: { reach: ['CANCEL'], tags: ['terminal', 'cancelled'] },
  },
  matrix: {
    //                   INITIALIZING  QUEUED      VALIDATING  RUNNING     DONE  ERROR  CANCELLED
    CLAIM:              '-             VALIDATING  -           -           -     -      -',
    PROGRESS:           '-             -           -           RUNNING     -     -      -',
    ASK:                '-             -           -           -           -     -      -',
    REPLY:              '-             -           -           -           -     -      -',
    CHECKPOINT:         '-             -           -           RUNNING     -     -      -',
    STEP:               '-             -           -           RUNNING     -     -      -',
    SUCCEED:            '-             -           -           DONE        -     -      -',
    FAIL:               'ERROR         -           ERROR       ERROR       -     -      -',
    'FAIL+retry':       'ERROR         -           QUEUED      QUEUED      -     -      -',
    CANCEL:             'CANCELLED     CANCELLED   CANCELLED   CANCELLED   -     -      -',
    CANCEL_DONE:        '-             -           -           -           -     -      -',
    LEASE_LOST:         '-             -           ERROR       ERROR       -     -      -',
    'LEASE_LOST+retry': '-             -           QUEUED      QUEUED      -     -      -',
    TIMEOUT:            '-             -           ERROR       ERROR       -     -      -',
    'TIMEOUT+retry':    '-             -           QUEUED      QUEUED      -     -      -',
    RELEASE:            '-             -           QUEUED      QUEUED      -     -      -',
    SET:                'INITIALIZING  QUEUED      VALIDATING  RUNNING     -     -      -',
    'SET+params':       '-             -           -           -           -     -      -',
    RUN:                '-             -           -           -           -     -      -',
    ABORT:              '-             -           -           -           -     -      -',
    HOLD:               '-             -           -           -           -     -      -',
    SUSPEND:            '-             -           -           -           -     -      -',
    RESUME:             '-             -           -           -           -     -      -',
    ARCHIVE:            '-             -           -           -           -     -      -',
    KILL:               '-             -           -           -           -     -      -',
    RESTART:            '-             -           -           -           -     -      -',
    ADMIT:              '-             -           -           -           -     -      -',
    QUEUE:              'QUEUED        -           -           -           -     -      -',
    VALIDATED:          '-             -           RUNNING     -           -     -      -',
  },
});

export const TABLES: Record<keyof typeof builtInLifecycles, LifecycleTable> = {
  ecotaxa: ECOTAXA_TABLE,
  uws: UWS_TABLE,
  rime: RIME_TABLE,
  synapse: SYNAPSE_TABLE,
  qiskit: QISKIT_TABLE,
};

/** Every event type the five lifecycles know, for vocabulary checks. */
export const ALL_EVENT_TYPES: readonly string[] = [...COMMON_EVENT_TYPES, ...COMMAND_TYPES];

/**
 * A matrix as phaseline/testing's transition table (what `expectTransitions` pins): a row per
 * situation, labelled by its state path (and `+cancel` for a cancel-requested column), with every
 * cell written out (`refused` for `-`).
 */
export function pinnedTable(table: LifecycleTable): Record<string, Record<string, string>> {
  return Object.fromEntries(
    table.situations.map((s) => [
      s.cancelRequested ? `${s.path}+cancel` : s.path,
      Object.fromEntries(EVENT_KEYS.map((key) => [key, table.next(s.label, key) ?? 'refused'])),
    ]),
  );
}
