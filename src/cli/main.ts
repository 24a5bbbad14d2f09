/**
 * The `phaseline` command. Default database ./phaseline.db; `--db FILE` for another.
 */
import { parseArgs } from 'node:util';
import { InvalidInputError, isPhaselineError } from '../errors.ts';
import type { Job } from '../engine/job.ts';
import { createPhaseline } from '../phaseline.ts';
import type { JobReplay, ReplaySummary } from '../replay/replay.ts';
import { runDemo } from './demo.ts';
import { iso, table } from './table.ts';

const USAGE = `Usage: phaseline [--db FILE] <command>

Commands:
  jobs [--phase P]... [--after ISO] [--last N] [--owner O] [--type T]
                     list jobs (UWS filters: PHASE repeatable, AFTER, LAST)
  show ID            one job, as JSON
  history ID         one job's events
  replay [ID]        fold histories through their machines and compare; exit 1 on divergence
  demo               run demo jobs of all five lifecycles with live progress, then list them
  serve [--port N]   serve UWS 1.1 (/uws), an EcoTaxa job API (/api/jobs) and JSON views (/jobs/ID?view=) on port 8080
`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      db: { type: 'string', default: './phaseline.db' },
      phase: { type: 'string', multiple: true },
      after: { type: 'string' },
      last: { type: 'string' },
      owner: { type: 'string' },
      type: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const phaseline = createPhaseline({ file: values.db });
  try {
    switch (command) {
      case 'jobs':
        printJobs(await phaseline.list({
          ...(values.phase ? { states: values.phase } : {}),
          ...(values.after ? { after: parseInstant(values.after) } : {}),
          ...(values.last ? { last: parseCount(values.last, '--last') } : {}),
          ...(values.owner ? { owner: values.owner } : {}),
          ...(values.type ? { type: values.type } : {}),
        }));
        return 0;
      case 'show':
        process.stdout.write(`${JSON.stringify(await phaseline.get(parseId(arg)), null, 2)}\n`);
        return 0;
      case 'history': {
        const events = await phaseline.history(parseId(arg));
        process.stdout.write(`${table(
          ['seq', 'at', 'event', 'from', 'to', 'actor', 'payload'],
          events.map((e) => [e.seq, iso(e.at), e.type, e.stateBefore, e.stateAfter, e.actor, e.payload ? JSON.stringify(e.payload).slice(0, 80) : null]),
        )}\n`);
        return 0;
      }
      case 'replay': {
        const reports = arg === undefined ? await phaseline.replayAll() : summarise(await phaseline.replay(parseId(arg)));
        for (const report of reports.reports) {
          for (const d of report.divergences) {
            process.stdout.write(`job ${report.jobId}: ${d.field} diverges at event ${d.seq ?? '-'}: stored ${JSON.stringify(d.stored)}, replayed ${JSON.stringify(d.replayed)}\n`);
          }
        }
        process.stdout.write(`replayed ${reports.jobs} jobs, ${reports.diverged} diverged\n`);
        return reports.diverged > 0 ? 1 : 0;
      }
      case 'demo':
        await runDemo(phaseline);
        printJobs(await phaseline.list());
        return 0;
      case 'serve': {
        const { serve } = await import('./serve.ts');
        await serve(phaseline, values.port ? parseCount(values.port, '--port') : 8080);
        return await new Promise<number>(() => {}); // runs until interrupted
      }
      default:
        process.stderr.write(`Unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (isPhaselineError(error)) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    if (command !== 'serve') await phaseline.close();
  }
}

/** One job's replay, in the shape of a whole-database summary. */
function summarise(report: JobReplay): ReplaySummary {
  const diverged = report.divergences.length > 0;
  return { jobs: 1, events: report.events, diverged: diverged ? 1 : 0, reports: diverged ? [report] : [], threads: 1 };
}

function printJobs(jobs: Job[]): void {
  process.stdout.write(`${table(
    ['id', 'lifecycle', 'type', 'state', 'progress', 'attempt', 'owner', 'created', 'message'],
    jobs.map((j) => [j.id, j.lifecycle, j.type, j.state, `${j.progress.percent.toFixed(0)}%`, j.attempt, j.owner, iso(j.createdAt), j.progress.message ?? j.errors.at(-1)?.message ?? null]),
  )}\n`);
}

function parseId(value: string | undefined): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidInputError('job id', `${value ?? '(none)'} is not a job id`);
  return id;
}

function parseCount(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidInputError(name, `${value} is not a positive integer`);
  return n;
}

function parseInstant(value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidInputError('--after', `${value} is not an ISO 8601 instant`);
  return t;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
