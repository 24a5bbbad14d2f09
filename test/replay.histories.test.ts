/**
 * replayHistories and upgrades through the engine: histories in the exported format replay with no
 * divergence through the machines that wrote them; a candidate changed in place is reported at the
 * first event where it shows, by cause (refused, state, tags, column, no such version); upgrade
 * moves a job whose history folds identically under the target version, with an UPGRADE event
 * that replay then understands, and leaves the others, saying why.
 *
 * The property: for random histories made by the engine over all five lifecycles (created on
 * version 1 or on an identical version 2, some upgraded in flight), replayHistories under the
 * unchanged lifecycles reports no divergence, and under a copy with one cell changed (a transition
 * dropped, or a state's `waiting` tag toggled) reports exactly the jobs whose histories pass
 * through that cell, on that version. PHASELINE_REPLAY_RUNS (default 100), PHASELINE_SEED.
 */
import fc from 'fast-check';
import { assign, type AnyMachineSnapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { builtInLifecycles, rime, uws, type Lifecycle } from '../machines/index.ts';
import { openDatabase } from '../src/db/open.ts';
import { SqliteStore } from '../src/db/sqlite-store.ts';
import { Engine } from '../src/engine/engine.ts';
import { LifecycleRegistry, validateLifecycle } from '../src/engine/lifecycles.ts';
import { firstSnapshot, machineEvent, nextSnapshot } from '../src/engine/transition.ts';
import { createPhaseline, HISTORY_FORMAT, replayHistories, type StoredHistory } from '../src/index.ts';
import { engineOf } from '../src/internal.ts';
import { parseHistory, toStoredHistory } from '../src/replay/stored.ts';
import { replayJob } from '../src/replay/replay.ts';
import { changed, cellsOf, stateAt, statesOf } from './support/changed.ts';
import { envInt } from './support/env.ts';
import { tempDir } from './support/sqlite.ts';

const RUNS = envInt('PHASELINE_REPLAY_RUNS', 100);
const SEED = envInt('PHASELINE_SEED', 20261202);

const BUILT_IN = Object.values(builtInLifecycles) as Lifecycle[];
/** Version 2 of each built-in lifecycle: the same machine, rebuilt. */
const V2 = BUILT_IN.map((l) => changed(l, () => {}, { version: 2, replaceBuiltIn: true }));
const uwsV2 = changed(uws, (states) => {
  stateAt(states, 'PENDING').on!.SET = { guard: 'keepsParams', actions: 'apply' };
}, { version: 2, replaceBuiltIn: true });

function engines(extra: Lifecycle[] = V2) {
  const store = new SqliteStore(openDatabase(':memory:'));
  let now = 1_000_000;
  const clock = () => (now += 7);
  return {
    v1: new Engine(store, { clock }),
    all: new Engine(store, { clock, lifecycles: new LifecycleRegistry([...BUILT_IN, ...extra]) }),
    close: () => store.close(),
  };
}

const historiesOf = (engine: Engine, ids: readonly number[]): StoredHistory[] => ids.map((id) => toStoredHistory(engine.find(id)!, engine.history(id)));

describe('replayHistories', () => {
  it('histories in the exported format replay with 0 diverged; a row edited by hand is reported at the last event', async () => {
    const { v1, close } = engines();
    const a = v1.create({ lifecycle: 'rime', type: 't', input: { params: { n: 1 } } });
    const b = v1.create({ lifecycle: 'uws', type: 't', input: { params: null }, start: false });
    v1.send(b.id, { type: 'SET', priority: 3 });
    const histories = historiesOf(v1, [a.id, b.id]);
    close();
    expect(histories[0]).toMatchObject({ format: HISTORY_FORMAT, job: { id: a.id, lifecycle: 'rime', lifecycleVersion: 1 }, events: [{ seq: 1, type: 'CREATE' }, { seq: 2, type: 'ADMIT' }] });
    expect(histories[0]!.job).not.toHaveProperty('leaseId');
    expect(await replayHistories(histories)).toEqual({ jobs: 2, events: 4, diverged: 0, causes: [], reports: [], notReplayed: [] });
    // Through JSON and back, as a file carries them.
    expect((await replayHistories(histories.map((h) => JSON.parse(JSON.stringify(h)) as StoredHistory))).diverged).toBe(0);

    const edited = structuredClone(histories);
    edited[1]!.job.priority = 9;
    const report = await replayHistories(edited);
    expect(report).toMatchObject({ jobs: 2, diverged: 1, reports: [{ jobId: b.id, divergences: [{ seq: 2, event: 'SET', field: 'priority', cause: 'column', stored: 9, replayed: 3 }] }] });
    expect(report.causes).toEqual([expect.objectContaining({ cause: 'column', description: 'uws@1: column priority differs after SET in PENDING', jobs: 1, jobIds: [b.id] })]);
  });

  it('a candidate changed in place: refused event, state, tags and column causes, grouped; unknown versions are not replayed', async () => {
    const { v1, close } = engines();
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { id } = v1.create({ lifecycle: 'rime', type: 't', input: { params: i } });
      ids.push(id);
      v1.send(id, { type: 'CLAIM' }, { lease: { leaseId: `L${i}`, leaseExpiresAt: 10 ** 13, workerId: 'w' } });
      if (i < 2) v1.send(id, { type: 'CANCEL' }); // jobs 1 and 2 pass through RUNNING × CANCEL
    }
    const draft = v1.create({ lifecycle: 'uws', type: 't', input: { params: null }, start: false });
    const histories = historiesOf(v1, [...ids, draft.id]);
    close();

    const refusing = changed(rime, (states) => void delete stateAt(states, 'JOB_STATUS_RUNNING').on!.CANCEL);
    const refused = await replayHistories(histories, [refusing]);
    expect(refused).toMatchObject({ jobs: 4, diverged: 2 });
    expect(refused.causes).toEqual([
      {
        cause: 'refused', description: 'rime@1: JOB_STATUS_RUNNING refuses CANCEL', jobs: 2, jobIds: [ids[0], ids[1]],
        first: [0, 1].map((i) => ({ jobId: ids[i], divergence: { seq: 4, event: 'CANCEL', field: 'transition', cause: 'refused', lifecycle: 'rime@1', state: 'JOB_STATUS_RUNNING', stored: 'JOB_STATUS_RUNNING → JOB_STATUS_RUNNING on CANCEL', replayed: 'JOB_STATUS_RUNNING refuses CANCEL' } })),
      },
    ]);

    const elsewhere = changed(rime, (states) => {
      stateAt(states, 'JOB_STATUS_RUNNING').on!.CANCEL = { target: '#rime.JOB_STATUS_CANCELLED', actions: 'apply' };
    });
    expect((await replayHistories(histories, [elsewhere])).causes).toMatchObject([
      { cause: 'state', description: 'rime@1: CANCEL in JOB_STATUS_RUNNING leads to JOB_STATUS_CANCELLED, not JOB_STATUS_RUNNING', jobs: 2 },
    ]);

    // A tag on a state every job passed through: the stored history cannot show it, the machine it was written with does.
    const tagged = changed(rime, (states) => void (stateAt(states, 'JOB_STATUS_PENDING').tags = ['queued', 'waiting']));
    const tags = await replayHistories(histories, [tagged]);
    expect(tags.causes).toMatchObject([{ cause: 'tags', description: 'rime@1: tags differ after ADMIT in JOB_STATUS_REQUESTED', jobs: 3 }]);
    expect(tags.causes[0]!.first[0]!.divergence).toMatchObject({ seq: 2, field: 'tags', stored: ['queued'], replayed: ['queued', 'waiting'] });

    // An action that changes a derived column.
    const prioritised = changed(rime, (states) => {
      stateAt(states, 'JOB_STATUS_PENDING').on!.CLAIM = { target: 'JOB_STATUS_RUNNING', actions: ['apply', 'bump'] };
    });
    const bump: Lifecycle = {
      ...prioritised,
      machine: prioritised.machine.provide({ actions: { bump: assign({ priority: 5 }) as never } }),
    };
    expect((await replayHistories(histories, [bump])).causes).toMatchObject([{ cause: 'column', description: 'rime@1: column priority differs after CLAIM in JOB_STATUS_PENDING', jobs: 3 }]);

    // The same histories with the unchanged machine given as a candidate, and without rime at all.
    expect((await replayHistories(histories, [changed(rime, () => {})])).diverged).toBe(0);
    const none = await replayHistories(histories, [], { registered: [uws] });
    expect(none).toMatchObject({ jobs: 1, diverged: 0, notReplayed: [{ lifecycle: 'rime@1', jobs: 3, jobIds: ids }] });
  });

  it('refuses what is not a history, naming the item and the problem', async () => {
    const { v1, close } = engines();
    const [good] = historiesOf(v1, [v1.create({ lifecycle: 'rime', type: 't', input: { params: null } }).id]);
    close();
    const { snapshot: _snapshot, ...noSnapshot } = good!.job;
    const bad: Array<[unknown, RegExp]> = [
      [null, /^Invalid history 2: not a job history/],
      [{ ...good, format: 7 }, /history format 7 is not one this version reads \(1\)/],
      [{ ...good, job: noSnapshot }, /the job lacks snapshot$/],
      [{ ...good, job: { ...good!.job, id: -1 } }, /job\.id must be a positive integer/],
      [{ ...good, events: [{ ...good!.events[0], seq: 'one' }] }, /events\[0\] needs an integer seq/],
    ];
    for (const [item, message] of bad) {
      await expect(replayHistories([good!, item as StoredHistory])).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(message) });
    }
    expect(() => parseHistory(good, 'line 1')).not.toThrow();
    // A history that parses but does not begin with CREATE is a divergence of the history, not bad input.
    const report = await replayHistories([{ ...good!, events: good!.events.slice(1) }]);
    expect(report.reports[0]!.divergences).toMatchObject([{ cause: 'history', field: 'history', stored: 'ADMIT', replayed: 'CREATE at seq 1' }]);
  });
});

describe('upgrade (the engine)', () => {
  it('moves a job whose history folds identically, records UPGRADE, replays with 0 divergence, and runs on the new machine', async () => {
    const { v1, all, close } = engines([uwsV2]);
    const clean = v1.create({ lifecycle: 'uws', type: 't', input: { params: { ra: 1 } }, start: false });
    const edited = v1.create({ lifecycle: 'uws', type: 't', input: { params: { ra: 1 } }, start: false });
    v1.send(edited.id, { type: 'SET', params: { ra: 2 } });
    const running = v1.create({ lifecycle: 'uws', type: 't', input: { params: null } });
    const lease = { leaseId: 'L', leaseExpiresAt: 10 ** 13, workerId: 'w' };
    v1.send(running.id, { type: 'CLAIM' }, { lease });
    const done = v1.create({ lifecycle: 'uws', type: 't', input: { params: null }, start: false });
    v1.send(done.id, { type: 'ABORT' });

    expect(all.upgradeCandidates('uws', 2)).toEqual([clean.id, edited.id, running.id]);
    expect(() => all.upgrade(clean.id, { lifecycle: 'uws', version: 3 })).toThrow(expect.objectContaining({ code: 'UNKNOWN_LIFECYCLE' }));
    expect(() => all.upgrade(clean.id, { lifecycle: 'rime', version: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const before = all.history(clean.id);
    expect(all.upgrade(clean.id, { lifecycle: 'uws', version: 2 }, { dryRun: true })).toMatchObject({ compatible: true, written: false });
    expect(all.history(clean.id)).toEqual(before);

    const moved = all.upgrade(clean.id, { lifecycle: 'uws', version: 2 }, { actor: 'ops' });
    expect(moved).toEqual({ jobId: clean.id, from: 1, to: 2, compatible: true, written: true, reason: null, divergence: null });
    const row = all.find(clean.id)!;
    expect(row).toMatchObject({ lifecycleVersion: 2, version: 2, state: 'PENDING', stateVersion: 1 });
    expect(all.history(clean.id).at(-1)).toMatchObject({ seq: 2, type: 'UPGRADE', payload: { from: 1, to: 2 }, stateBefore: 'PENDING', stateAfter: 'PENDING', actor: 'ops' });
    // Version 2 now answers for it: a SET of its parameters is refused, as version 1 would accept.
    expect(() => all.send(clean.id, { type: 'SET', params: { ra: 5 } })).toThrow(expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }));

    const kept = all.upgrade(edited.id, { lifecycle: 'uws', version: 2 });
    expect(kept).toMatchObject({ compatible: false, written: false, divergence: { seq: 2, event: 'SET', cause: 'refused', lifecycle: 'uws@2', state: 'PENDING' } });
    expect(kept.reason).toBe('at event 2 (SET): uws@2 refuses SET in state PENDING (stored: PENDING → PENDING on SET)');
    expect(all.find(edited.id)!.lifecycleVersion).toBe(1);

    // A running job moves with its lease; its worker's next writes go through version 2.
    expect(all.upgrade(running.id, { lifecycle: 'uws', version: 2 }).written).toBe(true);
    expect(all.find(running.id)).toMatchObject({ lifecycleVersion: 2, running: true, leaseId: 'L' });
    all.send(running.id, { type: 'PROGRESS', percent: 50 }, { fence: lease });
    all.send(running.id, { type: 'SUCCEED', result: { ok: true } }, { fence: lease });
    all.send(clean.id, { type: 'RUN' });
    expect(all.upgrade(done.id, { lifecycle: 'uws', version: 2 })).toMatchObject({ compatible: false, reason: 'it has finished (ABORTED)' });
    expect(all.upgrade(clean.id, { lifecycle: 'uws', version: 2 })).toMatchObject({ compatible: false, reason: 'it is on version 2 already' });
    // Back to 1: allowed where the history folds the same under it.
    expect(all.upgrade(clean.id, { lifecycle: 'uws', version: 1 }).written).toBe(true);
    expect(all.history(clean.id).map((e) => e.type)).toEqual(['CREATE', 'UPGRADE', 'RUN', 'UPGRADE']);

    for (const id of [clean.id, edited.id, running.id, done.id]) expect(replayJob(all, id).divergences, `job ${id}`).toEqual([]);
    const histories = historiesOf(all, [clean.id, edited.id, running.id, done.id]);
    expect(await replayHistories(histories, [uwsV2])).toMatchObject({ jobs: 4, diverged: 0, notReplayed: [] });
    expect(await replayHistories(histories)).toMatchObject({ jobs: 2, notReplayed: [{ lifecycle: 'uws@2', jobIds: [clean.id, running.id] }] });
    // UPGRADE is the engine's to write: nobody sends it.
    expect(() => all.send(edited.id, { type: 'UPGRADE', from: 1, to: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    close();
  });

  it('the facade: upgrade() reports moved and kept jobs; an unknown version is refused and changes nothing; histories({ since, id })', async () => {
    const dir = tempDir('upgrade');
    const file = `${dir}/jobs.db`;
    const old = createPhaseline({ file });
    old.register({ name: 'draft', lifecycle: 'uws', handler: async () => ({ done: true }) });
    const a = await old.enqueue('draft', { n: 1 }, { start: false });
    const b = await old.enqueue('draft', { n: 2 }, { start: false });
    await old.send(b, { type: 'SET', params: { n: 3 } });
    await old.close();

    const p = createPhaseline({ file, lifecycles: [uwsV2] });
    p.register({ name: 'draft', lifecycle: 'uws', handler: async () => ({ done: true }) });
    const snapshot = async () => ({ jobs: await p.list(), histories: await Promise.all([a, b].map((id) => p.history(id))) });
    const untouched = await snapshot();
    await expect(p.upgrade({ lifecycle: 'uws', to: 9 })).rejects.toMatchObject({ code: 'UNKNOWN_LIFECYCLE', message: 'No lifecycle uws version 9 is registered' });
    await expect(p.upgrade({ lifecycle: 'nope', to: 1 })).rejects.toMatchObject({ code: 'UNKNOWN_LIFECYCLE' });
    expect(await p.upgrade({ lifecycle: 'uws', to: 2, dryRun: true })).toMatchObject({ dryRun: true, upgraded: [{ jobId: a, from: 1 }], kept: [{ jobId: b, from: 1 }] });
    expect(await snapshot()).toEqual(untouched);

    const transitions: string[] = [];
    p.on('job:transition', ({ event }) => transitions.push(`${event.jobId} ${event.type}`));
    const report = await p.upgrade({ lifecycle: 'uws', to: 2, actor: 'me' });
    expect(report).toMatchObject({ lifecycle: 'uws', to: 2, dryRun: false, upgraded: [{ jobId: a, from: 1 }], kept: [{ jobId: b, from: 1, reason: expect.stringContaining('uws@2 refuses SET in state PENDING') }] });
    expect(transitions).toEqual([`${a} UPGRADE`]);

    // A worker finishes the moved job on version 2.
    await p.send(a, { type: 'RUN' });
    const ended = new Promise<void>((resolve) => p.on('job:ended', ({ job }) => job.id === a && resolve()));
    p.start({ pollIntervalMs: 10 });
    await ended;
    await p.stop();
    expect(await p.get(a)).toMatchObject({ state: 'COMPLETED', lifecycleVersion: 2, result: { done: true } });
    expect((await p.history(a)).map((e) => e.type)).toEqual(['CREATE', 'UPGRADE', 'RUN', 'CLAIM', 'SUCCEED']);
    expect(await p.replayAll()).toMatchObject({ jobs: 2, diverged: 0 });

    const all: StoredHistory[] = [];
    for await (const history of p.histories()) all.push(history);
    expect(all.map((h) => h.job.id)).toEqual([a, b]);
    const since = (await p.get(a)).updatedAt;
    const recent: number[] = [];
    for await (const history of p.histories({ since })) recent.push(history.job.id);
    expect(recent).toEqual([a]);
    const one: number[] = [];
    for await (const history of p.histories({ id: b })) one.push(history.job.id);
    expect(one).toEqual([b]);
    expect(await replayHistories(all, [uwsV2])).toMatchObject({ jobs: 2, diverged: 0 });
    expect(engineOf(p).history(a).find((e) => e.type === 'UPGRADE')).toMatchObject({ actor: 'me' });
    await p.close();
  });
});

// ── The property ───────────────────────────────────────────────────────────

/** A payload for each event type a machine knows, so that guarded transitions are taken both ways. */
function eventOf(type: string, pick: number): Record<string, unknown> & { type: string } {
  switch (type) {
    case 'PROGRESS': return { type, percent: pick % 101 };
    case 'ASK': return { type, question: { q: pick } };
    case 'REPLY': return { type, reply: pick };
    case 'CHECKPOINT': return { type, inside: { pick }, step: pick % 4 };
    case 'STEP': return { type, name: `s${pick % 3}`, result: pick };
    case 'SUCCEED': return { type, result: { pick } };
    case 'FAIL': return pick % 2 ? { type, error: { message: 'no' }, retryAt: 5 } : { type, error: { message: 'no', kind: 'fatal' } };
    case 'LEASE_LOST':
    case 'TIMEOUT': return pick % 2 ? { type, retryAt: 5 } : { type };
    case 'SET': return pick % 3 === 0 ? { type, params: { pick } } : { type, priority: pick % 7 };
    default: return { type };
  }
}

type Mutation = { lifecycle: string; version: number; kind: 'drop'; state: string; event: string } | { lifecycle: string; version: number; kind: 'tag'; state: string };

const byVersion = (version: number) => (version === 1 ? BUILT_IN : V2);
const lifecycleOf = (name: string, version: number) => byVersion(version).find((l) => l.name === name)!;

/** The mutated copy, or null when the registry would refuse it (a start event it no longer accepts...). */
function mutate(m: Mutation): Lifecycle | null {
  const mutated = changed(lifecycleOf(m.lifecycle, m.version), (states) => {
    const state = stateAt(states, m.state);
    if (m.kind === 'drop') delete state.on![m.event];
    else state.tags = state.tags?.includes('waiting') ? state.tags.filter((t) => t !== 'waiting') : [...(state.tags ?? []), 'waiting'];
  });
  try {
    validateLifecycle(mutated);
    return mutated;
  } catch {
    return null;
  }
}

/** Every mutation of every version of every lifecycle that still registers. */
const MUTATIONS: Mutation[] = [1, 2].flatMap((version) =>
  BUILT_IN.flatMap(({ name }) => {
    const lifecycle = lifecycleOf(name, version);
    return [
      ...cellsOf(lifecycle).map(({ state, event }): Mutation => ({ lifecycle: name, version, kind: 'drop', state, event })),
      ...statesOf(lifecycle).map((state): Mutation => ({ lifecycle: name, version, kind: 'tag', state })),
    ];
  }),
).filter((m) => mutate(m) !== null);

/** The state nodes a state value has active: `PROCESSING` and `PROCESSING.running` for `{ PROCESSING: 'running' }`. */
function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => [`${prefix}${key}`, ...activePaths(child, `${prefix}${key}.`)]);
}

const cellKey = (m: Mutation) => (m.kind === 'drop' ? `${m.lifecycle}@${m.version} ${m.state} ${m.event}` : `${m.lifecycle}@${m.version} ${m.state}`);

/**
 * The cells a stored history passes through, folded by the unchanged machines: each state node it
 * is in after each event, on its version (`uws@1 PENDING`), and each event taken from a state node
 * (`uws@1 PENDING SET`), as {@link cellKey} spells a mutation of them.
 */
function cellsPassed(history: StoredHistory): Set<string> {
  const [create, ...rest] = history.events;
  const payload = create!.payload as { lifecycle: string; lifecycleVersion: number; input: unknown };
  const name = payload.lifecycle;
  let version = payload.lifecycleVersion;
  let snapshot: AnyMachineSnapshot = firstSnapshot(lifecycleOf(name, version).machine, payload.input);
  const cells = new Set<string>();
  const inStates = () => activePaths(snapshot.value).forEach((path) => cells.add(`${name}@${version} ${path}`));
  inStates();
  for (const event of rest) {
    if (event.type === 'UPGRADE') {
      version = (event.payload as { to: number }).to;
    } else {
      for (const path of activePaths(snapshot.value)) cells.add(`${name}@${version} ${path} ${event.type}`);
      snapshot = nextSnapshot(lifecycleOf(name, version).machine, snapshot, machineEvent(event.type, event.at, event.payload));
    }
    inStates();
  }
  return cells;
}

const jobPlan = fc.record({
  lifecycle: fc.constantFrom(...BUILT_IN.map((l) => l.name)),
  createdOn: fc.constantFrom(1, 2),
  start: fc.boolean(),
  steps: fc.array(fc.record({ pick: fc.nat(1000), upgrade: fc.nat(9) }), { maxLength: 14 }),
});

describe('replayHistories, property', () => {
  it(`${RUNS} random sets of engine-made histories: 0 diverged unchanged; exactly the jobs through a changed cell otherwise`, async () => {
    expect(MUTATIONS.length).toBeGreaterThan(100);
    await fc.assert(
      fc.asyncProperty(fc.array(jobPlan, { minLength: 1, maxLength: 8 }), fc.nat(), async (plans, choice) => {
        const { v1, all, close } = engines();
        const ids: number[] = [];
        try {
          for (const plan of plans) {
            const creator = plan.createdOn === 1 ? v1 : all;
            const { id } = creator.create({ lifecycle: plan.lifecycle, type: 't', input: { params: null }, start: plan.start });
            ids.push(id);
            for (const [i, step] of plan.steps.entries()) {
              const row = all.find(id)!;
              if (step.upgrade === 0) {
                all.upgrade(id, { lifecycle: row.lifecycle, version: 3 - row.lifecycleVersion });
                continue;
              }
              const events = all.lifecycles.get(row.lifecycle, row.lifecycleVersion).machine.root.events as string[];
              const event = eventOf(events[step.pick % events.length]!, step.pick);
              const lease = { leaseId: `L${id}.${i}`, leaseExpiresAt: 10 ** 13, workerId: 'w' };
              try {
                all.send(id, event, event.type === 'CLAIM' ? { lease } : {});
              } catch (error) {
                if (!['ILLEGAL_TRANSITION', 'INVALID_INPUT'].includes((error as { code?: string }).code ?? '')) throw error;
              }
            }
          }
          const histories = historiesOf(all, ids);
          // The histories were written with both versions: as registered lifecycles, or version 2 as candidates.
          const registered = [...BUILT_IN, ...V2];
          for (const unchanged of [await replayHistories(histories, [], { registered }), await replayHistories(histories, V2)]) {
            if (unchanged.diverged > 0 || unchanged.jobs !== ids.length) throw new Error(`unchanged: ${JSON.stringify(unchanged.reports)}`);
          }

          // Half the runs change a cell some history passed through, the others any cell.
          const passed = histories.map(cellsPassed);
          const hit = MUTATIONS.filter((m) => passed.some((cells) => cells.has(cellKey(m))));
          const mutation = choice % 2 === 0 && hit.length > 0 ? hit[(choice >> 1) % hit.length]! : MUTATIONS[(choice >> 1) % MUTATIONS.length]!;
          const report = await replayHistories(histories, [mutate(mutation)!], { registered });
          const expected = histories.filter((_h, i) => passed[i]!.has(cellKey(mutation))).map((h) => h.job.id);
          expect(report.reports.map((r) => r.jobId)).toEqual(expected);
          const cause = mutation.kind === 'drop' ? 'refused' : 'tags';
          for (const r of report.reports) expect(r.divergences[0]!.cause, JSON.stringify(r.divergences[0])).toBe(cause);
        } finally {
          close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
