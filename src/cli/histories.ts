/**
 * The history commands: `export` writes the database's histories as JSON lines, `replay` folds
 * them (from the database or from such a file) through the loaded machines and reports what
 * differs, by cause, and `upgrade` moves in-flight jobs to another version of their lifecycle.
 */
import { createReadStream, createWriteStream, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Lifecycle } from '../../machines/common.ts';
import { InvalidInputError, isPhaselineError, UnknownLifecycleError } from '../errors.ts';
import type { Phaseline } from '../phaseline.ts';
import { replayHistories } from '../replay/histories.ts';
import { parseHistory } from '../replay/stored.ts';
import type { HistoryReplayReport, StoredHistory } from '../replay/types.ts';
import { CliError, errorLine, EXIT } from './errors.ts';
import { json, replayLines, upgradeLines } from './print.ts';

const out = (text: string) => process.stdout.write(text);

/**
 * `export`: one job a line, `{ "format": 1, "job": {...}, "events": [...] }`. With `--out`, the
 * file appears only once it is complete (written beside it, then renamed).
 */
export async function exportCommand(p: Phaseline, options: { since?: number; out?: string }): Promise<number> {
  const histories = p.histories(options.since === undefined ? {} : { since: options.since });
  if (options.out === undefined) {
    for await (const history of histories) await write(process.stdout, `${JSON.stringify(history)}\n`);
    return EXIT.ok;
  }
  const partial = `${options.out}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(partial, 'wx');
  } catch (error) {
    throw cannotWrite(options.out, error);
  }
  const file = createWriteStream(partial, { fd });
  let jobs = 0;
  let events = 0;
  try {
    for await (const history of histories) {
      await write(file, `${JSON.stringify(history)}\n`);
      jobs++;
      events += history.events.length;
    }
    await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
    renameSync(partial, options.out);
  } catch (error) {
    file.destroy();
    rmSync(partial, { force: true });
    throw cannotWrite(options.out, error);
  }
  out(`exported ${jobs} ${jobs === 1 ? 'job' : 'jobs'} (${events} events) to ${options.out}\n`);
  return EXIT.ok;
}

function cannotWrite(file: string, error: unknown): unknown {
  if (error instanceof CliError || isPhaselineError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? new CliError(`--out ${file}: cannot write it (${code})`) : error;
}

/** Write, waiting for the stream to drain when it asks to. */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** The histories of a file `export` wrote; a line that is not one stops the reading with its number (exit 2). */
export async function* readHistories(file: string): AsyncGenerator<StoredHistory> {
  let stats;
  try {
    stats = statSync(file);
  } catch {
    throw new CliError(`--from ${file}: no such file`);
  }
  if (!stats.isFile()) throw new CliError(`--from ${file}: not a file`);
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new CliError(`--from ${file} line ${n}: not JSON (${error instanceof Error ? error.message : String(error)})`);
      }
      try {
        yield parseHistory(value, `line ${n}`);
      } catch (error) {
        if (error instanceof InvalidInputError) throw new CliError(`--from ${file} line ${n}: ${error.problem}`);
        throw error;
      }
    }
  } finally {
    lines.close();
  }
}

export interface ReplayOptions {
  json?: boolean;
  from?: string;
}

/**
 * `replay`: the histories of the database (or of `--from FILE`, without any database) folded
 * through the loaded lifecycles, each of which replaces the built-in one of its name and version.
 * Exit 1 when a job diverged; 2 when jobs were not replayed for want of their lifecycle.
 */
export async function replayCommand(source: Phaseline | string, candidates: readonly Lifecycle[], id: number | undefined, options: ReplayOptions): Promise<number> {
  let histories: AsyncIterable<StoredHistory>;
  if (typeof source === 'string') {
    histories = id === undefined ? readHistories(source) : only(readHistories(source), id);
  } else {
    if (id !== undefined) await source.get(id); // a missing job is missing input, not a divergence
    histories = source.histories(id === undefined ? {} : { id });
  }
  const report = await replayHistories(histories, candidates);
  if (id !== undefined) {
    if (typeof source === 'string' && report.jobs + report.notReplayed.length === 0) throw new CliError(`--from ${source}: no job ${id} in it`);
    const [missing] = report.notReplayed;
    if (missing) throw unknownLifecycle(missing.lifecycle);
  }
  return printReplay(report, options.json === true);
}

async function* only(histories: AsyncIterable<StoredHistory>, id: number): AsyncGenerator<StoredHistory> {
  for await (const history of histories) if (history.job.id === id) yield history;
}

/** `note@1` as the error the engine gives for it. */
function unknownLifecycle(label: string): UnknownLifecycleError {
  const at = label.lastIndexOf('@');
  return new UnknownLifecycleError(label.slice(0, at), Number(label.slice(at + 1)));
}

function printReplay(report: HistoryReplayReport, asJson: boolean): number {
  out(asJson ? json(report) : replayLines(report));
  const skipped = report.notReplayed.reduce((n, group) => n + group.jobs, 0);
  if (skipped > 0) {
    const list = report.notReplayed.map(({ lifecycle, jobs }) => `${lifecycle} (${jobs} ${jobs === 1 ? 'job' : 'jobs'})`).join(', ');
    process.stderr.write(errorLine(`${skipped} ${skipped === 1 ? 'job was' : 'jobs were'} not replayed: lifecycle ${list} not loaded; load it with --lifecycles FILE`));
  }
  return report.diverged > 0 ? EXIT.refused : skipped > 0 ? EXIT.usage : EXIT.ok;
}

export interface UpgradeCommandOptions {
  lifecycle: string;
  to: number;
  dryRun?: boolean;
  actor: string;
  json?: boolean;
}

/** `upgrade`: exit 0 when every unfinished job of the lifecycle moved (or none was left to), 1 when some stay. */
export async function upgradeCommand(p: Phaseline, options: UpgradeCommandOptions): Promise<number> {
  const report = await p.upgrade({ lifecycle: options.lifecycle, to: options.to, dryRun: options.dryRun === true, actor: options.actor });
  out(options.json ? json(report) : upgradeLines(report));
  return report.kept.length > 0 ? EXIT.refused : EXIT.ok;
}
