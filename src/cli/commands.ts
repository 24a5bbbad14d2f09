/** The commands that read and change jobs. Each prints its result and returns the exit code. */
import { COMMON_EVENT_TYPES, type Json } from '../../machines/common.ts';
import type { Job } from '../engine/job.ts';
import { InvalidInputError } from '../errors.ts';
import type { Phaseline } from '../phaseline.ts';
import { CliError, EXIT } from './errors.ts';
import { historyTable, jobDetails, jobsTable, json } from './print.ts';

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
