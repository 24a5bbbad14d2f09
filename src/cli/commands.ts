/** The commands that read and change jobs. Each prints its result and returns the exit code. */
import { COMMON_EVENT_TYPES, type Json } from '../../machines/common.ts';
import type { Job } from '../engine/job.ts';
import { InvalidInputError, UnknownLifecycleError } from '../errors.ts';
import type { Phaseline } from '../phaseline.ts';
import type { JobReplay, ReplaySummary } from '../replay/replay.ts';
import { CliError, errorLine, EXIT } from './errors.ts';
import { divergenceLines, historyTable, jobDetails, jobsTable, json } from './print.ts';

const out = (text: string) => process.stdout.write(text);

export interface JobsOptions {
  phase: string[];
  after?: number;
  last?: number;
  owner?: string;
  type?: string;
  json?: boolean;
}

export async function jobsCommand(p: Phaseline, options: JobsOptions): Promise<number> {
  // A state no lifecycle has would list nothing, silently: refuse it as the HTTP API does.
  const known = new Set(p.lifecycles().flatMap((l) => Object.keys((l.machine.root as { states: object }).states)));
  const unknown = options.phase.filter((state) => !known.has(state));
  if (unknown.length > 0) {
    throw new CliError(`--phase ${unknown.join(', ')}: no loaded lifecycle has such a state (states: ${[...known].join(' ')})`);
  }
  const jobs = await p.list({
    ...(options.phase.length > 0 ? { states: options.phase } : {}),
    ...(options.after !== undefined ? { after: options.after } : {}),
    ...(options.last !== undefined ? { last: options.last } : {}),
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
    ...(options.type !== undefined ? { type: options.type } : {}),
  });
  out(options.json ? json(jobs) : jobsTable(jobs));
  return EXIT.ok;
}

export async function showCommand(p: Phaseline, id: number, asJson: boolean): Promise<number> {
  const job = await p.get(id);
  out(asJson ? json(job) : jobDetails(job));
  return EXIT.ok;
}

export async function historyCommand(p: Phaseline, id: number, asJson: boolean): Promise<number> {
  const events = await p.history(id);
  out(asJson ? json(events) : historyTable(events));
  return EXIT.ok;
}

/**
 * Replay one job or all. Jobs of a lifecycle that is not loaded cannot be replayed: they are
 * counted apart and named on stderr (exit 2, load it with --lifecycles), not reported as diverged.
 */
export async function replayCommand(p: Phaseline, id: number | undefined, asJson: boolean): Promise<number> {
  let summary: ReplaySummary;
  if (id === undefined) {
    summary = await p.replayAll();
  } else {
    const job = await p.get(id); // a missing job is missing input, not a divergence
    const report = await p.replay(id);
    if (unknownLifecycle(report) !== null) throw new UnknownLifecycleError(job.lifecycle, job.lifecycleVersion);
    summary = summarise(report);
  }
  const unknown = new Map<string, number>();
  const reports = summary.reports.filter((report) => {
    const lifecycle = unknownLifecycle(report);
    if (lifecycle !== null) unknown.set(lifecycle, (unknown.get(lifecycle) ?? 0) + 1);
    return lifecycle === null;
  });
  const skipped = [...unknown.values()].reduce((a, b) => a + b, 0);
  const jobs = summary.jobs - skipped;
  if (asJson) {
    const notReplayed = [...unknown].map(([lifecycle, count]) => ({ lifecycle, jobs: count }));
    out(json({ jobs, events: summary.events, diverged: reports.length, reports, notReplayed }));
  } else {
    for (const report of reports) out(divergenceLines(report));
    out(`replayed ${jobs} jobs, ${reports.length} diverged\n`);
  }
  if (skipped > 0) {
    const list = [...unknown].map(([lifecycle, count]) => `${lifecycle} (${count} ${count === 1 ? 'job' : 'jobs'})`).join(', ');
    process.stderr.write(errorLine(`${skipped} ${skipped === 1 ? 'job was' : 'jobs were'} not replayed: lifecycle ${list} not loaded; load it with --lifecycles FILE`));
  }
  return reports.length > 0 ? EXIT.refused : skipped > 0 ? EXIT.usage : EXIT.ok;
}

/** `name@version` when replay could not find the job's machine, else null. */
function unknownLifecycle(report: JobReplay): string | null {
  const [only] = report.divergences;
  return report.divergences.length === 1 && only!.field === 'lifecycle' && only!.replayed === 'not registered' ? String(only!.stored) : null;
}

/** One job's replay, in the shape of a whole-database summary. */
function summarise(report: JobReplay): ReplaySummary {
  const diverged = report.divergences.length > 0;
  return { jobs: 1, events: report.events, diverged: diverged ? 1 : 0, reports: diverged ? [report] : [], threads: 1 };
}

export async function cancelCommand(p: Phaseline, id: number, asJson: boolean): Promise<number> {
  const before = await p.get(id);
  return changed(before, await p.cancel(id), asJson);
}

export async function replyCommand(p: Phaseline, id: number, answer: string, asJson: boolean): Promise<number> {
  const before = await p.get(id);
  return changed(before, await p.reply(id, parseJson(answer, 'answer')), asJson);
}

/** Events only the worker holding a job sends; from here they would contradict that worker. */
const WORKER_EVENTS = new Set<string>(COMMON_EVENT_TYPES.filter((t) => !['REPLY', 'CANCEL', 'SET'].includes(t)));

export async function sendCommand(p: Phaseline, id: number, type: string, payload: string | undefined, asJson: boolean): Promise<number> {
  if (WORKER_EVENTS.has(type)) throw new CliError(`${type} is sent by the worker running a job, not from the command line`);
  if (!/^[A-Za-z][A-Za-z0-9_.:-]*$/.test(type)) throw new InvalidInputError('event', `${JSON.stringify(type)} is not an event type`);
  const fields = payload === undefined ? {} : parseJson(payload, 'payload');
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InvalidInputError('payload', 'must be a JSON object');
  if ('type' in fields && fields.type !== type) throw new InvalidInputError('payload', `its "type" contradicts the event ${type}`);
  const before = await p.get(id);
  return changed(before, await p.send(id, { ...fields, type }), asJson);
}

function parseJson(text: string, field: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    // A bare word is the usual slip: the shell ate the quotes of a JSON string.
    const hint = /^[A-Za-z_][\w-]*$/.test(text) ? `; a string must be quoted for the shell too: '"${text}"'` : '';
    throw new InvalidInputError(field, `not JSON (${error instanceof Error ? error.message : String(error)})${hint}`);
  }
}

function changed(before: Job, after: Job, asJson: boolean): number {
  if (asJson) {
    out(json(after));
  } else {
    const pending = after.cancelRequested && !after.terminal ? ', cancel requested: it ends when its handler stops' : '';
    out(`job ${after.id}: ${before.state} -> ${after.state}${pending}\n`);
  }
  return EXIT.ok;
}
