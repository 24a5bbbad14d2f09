/**
 * Scenarios run on every kind of store, so that their results can be compared: the same engine
 * operations through SQLite, the asynchronous wrapper and PostgreSQL give the same rows and histories.
 */
import type { Engine } from '../../src/engine/engine.ts';

export const steps = () => {
  let now = 1_000;
  return () => (now += 10);
};
export const leaseFor = (now: number) => ({ leaseId: 'lease-1.30000', leaseExpiresAt: now + 30_000, workerId: 'w', actor: 'w/lease-1' });
export const uws = (params: number, idempotencyKey?: string) => ({ lifecycle: 'uws', type: 'job', input: { params }, ...(idempotencyKey ? { idempotencyKey } : {}) });

/** The same operations on an engine of either kind of store; `await` is a no-op on the synchronous one. */
export async function script(engine: Engine<any>) {
  const a = await engine.create(uws(1, 'k'));
  const again = await engine.create(uws(99, 'k'));
  const b = await engine.create(uws(2));
  const c = await engine.create(uws(3));
  await engine.send(b.id, { type: 'SET', priority: 5 });
  const claimed = await engine.claimDue(2, ['job'], leaseFor);
  await engine.send(claimed[0]!.id, { type: 'SUCCEED', result: { ok: true } }, { fence: { leaseId: 'lease-1.30000' } });
  const refused = await (async () => engine.send(a.id, { type: 'RESUME' }))().then(() => 'accepted', (error) => error.code);
  const accepts = await engine.accepts(a.id, 'CLAIM');
  const [d, e] = await engine.createMany([uws(4), uws(5)]);
  // A batch: one send refused (a lease it does not hold), one accepted, then a claim of the freed slot.
  const refusals: string[] = [];
  const fenced = (jobId: number, leaseId: string) => () => ({ jobId, event: { type: 'SUCCEED', result: null }, options: { fence: { leaseId } } });
  const next = await engine.sendEachThenClaim(
    [fenced(a.id, 'someone-else'), fenced(a.id, 'lease-1.30000')],
    (send: { jobId: number }, error: unknown) => refusals.push(`${send.jobId} ${(error as { code: string }).code}`),
    () => ({ limit: 1, types: ['job'], leaseFor }),
  );
  await engine.deleteJobs([c.id]);
  const jobs = await engine.list();
  const histories = await Promise.all(jobs.map((job: { id: number }) => engine.history(job.id)));
  return { again: again.id === a.id, claimed: claimed.map((row: { id: number }) => row.id), refused, accepts, refusals, next: next.map((row: { id: number }) => row.id), batch: [d!.id, e!.id], gone: await engine.find(c.id), jobs, histories };
}


const LIFECYCLES = ['uws', 'rime', 'qiskit', 'ecotaxa'] as const;
const OWNERS = ['alice', 'bob', null] as const;

/**
 * Every read the store offers, over jobs of several lifecycles, owners, types and states: listings by
 * each filter, claims by type and due time, leases and their renewal, destruction, ended jobs, pages.
 */
export async function queries(engine: Engine<any>) {
  const ids: number[] = [];
  for (let i = 0; i < 12; i++) {
    const job = await engine.create({
      lifecycle: LIFECYCLES[i % 4]!, type: i % 2 ? 'odd' : 'even', owner: OWNERS[i % 3]!,
      input: { params: { i, text: `é ${i}`, nested: [i, null, { deep: true }] }, priority: i % 3, destruction: 2_000 + i * 5, ...(i === 5 ? { runAfter: 10 ** 12 } : {}) },
    });
    ids.push(job.id);
  }
  const claimOrder = await engine.claimableIds(1_500, 20);
  const oddOrder = await engine.claimableIds(1_500, 20, ['odd']);
  const claimed = await engine.claimDue(4, ['even', 'odd'], leaseFor);
  const c0 = claimed.find((row: { lifecycle: string }) => row.lifecycle === 'uws')!;
  // A synchronous store throws at once, an asynchronous one rejects: either way, the state or the code.
  const outcome = async (send: () => { state: string } | Promise<{ state: string }>) => {
    try {
      return (await send()).state;
    } catch (error) {
      return (error as { code: string }).code;
    }
  };
  const renewed = [
    await engine.renewLease(c0.id, 'lease-1.30000', 1), // earlier than the stored expiry: it still moves on by 1 ms
    await engine.renewLease(c0.id, 'other', 10 ** 9),
    await engine.renewLease(ids[5]!, 'lease-1.30000', 10 ** 9), // not running
  ];
  await engine.send(c0.id, { type: 'PROGRESS', percent: 40, message: 'half way' }, { fence: { leaseId: 'lease-1.30000' } });
  const sent = [];
  for (const row of claimed.filter((r: { id: number }) => r.id !== c0.id)) {
    sent.push(await outcome(() => engine.send(row.id, { type: 'SUCCEED', result: { rows: [1, 2] } })));
    sent.push(await outcome(() => engine.send(row.id, { type: 'FAIL', error: { message: 'boom', kind: 'fatal' } })));
  }
  // The store promises no order for these three: compare them by id.
  const leases = byId(await engine.runningLeases());
  const due = byId(await engine.dueForDestruction(2_030, 100));
  const ended = [...(await engine.endedBefore(10 ** 6, ['rime'], 100))].sort((a, b) => a - b);
  const lists = {
    all: await engine.list(),
    alice: await engine.list({ owner: 'alice' }),
    nobody: await engine.list({ owner: null }),
    last3: await engine.list({ last: 3 }),
    limit2: await engine.list({ limit: 2, type: 'odd' }),
    rime: await engine.list({ lifecycle: 'rime' }),
    after: await engine.list({ after: 1_050 }),
    states: await engine.list({ states: ['QUEUED', 'EXECUTING'] }),
  };
  const range = await engine.idRange();
  const page = await engine.pageWithHistory(ids[2]!, 3, ids[10]!);
  // jobsAfter and historyBetween, through the one script that reads them (replay's pages).
  const between = (await engine.pageWithHistory(ids[0]! - 1, 4, ids[3]!)).events;
  const after = (await engine.pageWithHistory(ids[8]!, 10, Number.MAX_SAFE_INTEGER)).jobs;
  const deleted = await engine.deleteJobs([ids[0]!, ids[1]!, 10 ** 9]);
  const emptyRange = (await engine.list()).length;
  return { claimOrder, oddOrder, claimed, renewed, sent, leases, due, ended, lists, range, page, between, after, deleted, emptyRange, accepts: await engine.accepts(ids[3]!, 'CLAIM') };
}

const byId = <T extends { id: number }>(rows: T[]) => [...rows].sort((a, b) => a.id - b.id);

/**
 * Upgrades on either kind of store: `v1` creates jobs on UWS version 1, `all` (which knows version 2,
 * test/fixtures/cli/uws-v2.ts) moves the unfinished ones, a running one among them, and its worker
 * finishes it through version 2.
 */
export async function upgrades(v1: Engine<any>, all: Engine<any>) {
  const queued = await v1.create(uws(1));
  const edited = await v1.create({ ...uws(2), start: false });
  await v1.send(edited.id, { type: 'SET', params: 5 });
  const draft = await v1.create({ ...uws(3), start: false });
  const [running] = await all.claimDue(1, ['job'], leaseFor);
  const candidates = await all.upgradeCandidates('uws', 2);
  const dry = await all.upgrade(draft.id, { lifecycle: 'uws', version: 2 }, { dryRun: true });
  const results = [];
  for (const id of candidates) results.push(await all.upgrade(id, { lifecycle: 'uws', version: 2 }, { actor: 'test' }));
  await all.send(running!.id, { type: 'SUCCEED', result: { ok: true } }, { fence: { leaseId: 'lease-1.30000' } });
  const refused = await (async () => all.send(draft.id, { type: 'SET', params: 7 }))().then(() => 'accepted', (error) => error.code);
  const jobs = await all.list();
  const histories = await Promise.all(jobs.map((job: { id: number }) => all.history(job.id)));
  return { queued: queued.id, candidates, dry, results, refused, left: await all.upgradeCandidates('uws', 2), jobs, histories };
}
