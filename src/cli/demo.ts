/**
 * `phaseline demo`: real handlers of all five lifecycles run by workers in this process, with live
 * progress bars. The EcoTaxa import asks a question and the demo answers it; a RIME test and a UWS
 * job are cancelled mid-run; a flaky job is retried; a broken one fails; a finished UWS job reaches
 * its destruction instant and is archived; a job sleeps durably mid-run; a parent spawns two child
 * jobs and joins them; a cron schedule enqueues a job each second, and is paused after its first
 * (`phaseline schedules` lists it).
 */
import type { Job } from '../engine/job.ts';
import type { Phaseline } from '../phaseline.ts';
import { demoJobTypes, ecotaxaImport, fanout, flaky, broken, heartbeat, nap, qiskitSampler, rimeStressTest, synapseQuery, uwsCutout } from '../demo/jobtypes.ts';
import { bar } from './table.ts';

export async function runDemo(phaseline: Phaseline, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  for (const type of demoJobTypes) phaseline.register(type);
  const now = Date.now();
  const ids = {
    import: await phaseline.enqueue(ecotaxaImport, { project: 17, file: 'plankton.zip' }, { owner: 'alice' }),
    cutout: await phaseline.enqueue(uwsCutout, { ra: 10.68, dec: 41.27 }, { owner: 'bob', runId: 'demo', destruction: now + 2500 }),
    abortedCutout: await phaseline.enqueue(uwsCutout, { ra: 83.82, dec: -5.39, radius: 5 }, { owner: 'bob' }),
    draft: await phaseline.enqueue(uwsCutout, { ra: 0, dec: 0 }, { owner: 'bob', start: false }),
    stress: await phaseline.enqueue(rimeStressTest, { model: 'fraud-v2', batches: 6 }, { owner: 'carol' }),
    cancelledStress: await phaseline.enqueue(rimeStressTest, { model: 'fraud-v3', batches: 40 }, { owner: 'carol' }),
    query: await phaseline.enqueue(synapseQuery, { sql: 'SELECT * FROM syn123' }, { owner: 'dave' }),
    sampler: await phaseline.enqueue(qiskitSampler, { shots: 1024 }, { owner: 'erin', priority: 5 }),
    flaky: await phaseline.enqueue(flaky, null, { owner: 'erin' }),
    broken: await phaseline.enqueue(broken, null, { owner: 'erin' }),
    nap: await phaseline.enqueue(nap, null, { owner: 'dave' }),
    fanout: await phaseline.enqueue(fanout, null, { owner: 'carol' }),
  };
  // Replaced when the demo runs again on the same database; paused once it has made its first job.
  await phaseline.schedule('demo-heartbeat', '* * * * * *', heartbeat, null);
  // A schedule keeps its pause across redefinitions (an operator's pause outlives a restart): the demo's own pause of an earlier run is lifted.
  await phaseline.resumeSchedule('demo-heartbeat');
  let scheduled: number | null = null;
  const live = new Map<number, Job>();
  const tty = out.isTTY === true;
  let drawn = 0;
  const draw = () => {
    if (!tty) return;
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[J`);
    const lines = [...live.values()].map((j) => `${String(j.id).padStart(4)} ${j.type.padEnd(18)} ${j.state.padEnd(20)} ${bar(j.progress.percent)} ${j.progress.message ?? ''}`);
    out.write(lines.map((l) => `${l}\n`).join(''));
    drawn = lines.length;
  };
  // Each answer, cancellation and abort is sent once: on PostgreSQL transitions are observed after
  // their commits, so a job may still look running in a notification that follows one of them.
  const acted = new Set<string>();
  const once = (key: string, act: () => Promise<unknown>) => {
    if (acted.has(key)) return;
    acted.add(key);
    act().catch((error: unknown) => out.write(`demo: ${key} failed: ${error instanceof Error ? error.message : String(error)}\n`));
  };
  phaseline.on('job:transition', ({ job, event }) => {
    if (job.running) live.set(job.id, job);
    else live.delete(job.id);
    if (!tty && event.stateBefore !== event.stateAfter) {
      out.write(`job ${job.id} ${job.type}: ${event.stateBefore} -> ${event.stateAfter} (${event.type})\n`);
    }
    if (job.type === heartbeat.name && scheduled === null) {
      scheduled = job.id;
      once('pause schedule', () => phaseline.pauseSchedule('demo-heartbeat'));
    }
    if (job.id === ids.import && job.state === 'A') {
      out.write(tty ? '' : `job ${job.id} asks: ${JSON.stringify(job.question)}; answering\n`);
      once(`reply ${job.id} v${job.version}`, () => phaseline.reply(job.id, { taxa: 'Copepoda' }, { owner: 'alice' }));
    }
    if (job.id === ids.cancelledStress && job.running && !job.cancelRequested && job.progress.percent >= 20) {
      once(`cancel ${job.id}`, () => phaseline.cancel(job.id, { owner: 'carol' }));
    }
    if (job.id === ids.abortedCutout && job.running && job.progress.percent >= 20) {
      once(`abort ${job.id}`, () => phaseline.send(job.id, { type: 'ABORT' }, { owner: 'bob' }));
    }
  });
  const timer = setInterval(draw, 100);
  phaseline.start({ concurrency: 4, pollIntervalMs: 100, progressIntervalMs: 50, cancelGraceMs: 1000 });
  const done = async () => {
    const jobs = await Promise.all(Object.values(ids).map((id) => phaseline.get(id)));
    if (scheduled === null || !(await phaseline.get(scheduled)).terminal) return false;
    return jobs.every((j) => j.terminal || j.id === ids.draft) && (await phaseline.get(ids.cutout)).state === 'ARCHIVED';
  };
  const deadline = Date.now() + 30_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('the demo did not finish within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  clearInterval(timer);
  draw();
  await phaseline.stop();
}
