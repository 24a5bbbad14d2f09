/** How jobs, histories and replays read in a terminal. `--json` prints the objects instead. */
import type { Job, JobEvent } from '../engine/job.ts';
import { describeDivergence } from '../replay/causes.ts';
import type { HistoryReplayReport, UpgradeReport } from '../replay/types.ts';
import { clip, iso, oneLine, table, terminalWidth } from './table.ts';

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** An instant to the second: a list needs no milliseconds. */
function seconds(instant: number): string {
  return new Date(instant).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a job's row says about it: a failed job's error first, else its progress message. */
function note(job: Job): string | null {
  const error = job.errors.at(-1)?.message ?? null;
  return job.outcome === 'failed' ? (error ?? job.progress.message) : (job.progress.message ?? error);
}

export function jobsTable(jobs: Job[]): string {
  return `${table(
    ['id', 'lifecycle', 'type', 'state', 'progress', 'attempt', 'owner', 'created', 'message'],
    jobs.map((j) => [j.id, j.lifecycle, j.type, j.state, `${j.progress.percent.toFixed(0)}%`, j.attempt, j.owner, seconds(j.createdAt), note(j)]),
    { shrink: ['message', 'type', 'owner'] },
  )}\n`;
}

/** Workers act as `worker-<host id>/<uuid>`: the uuid's first group tells them apart. */
export function shortActor(actor: string | null): string | null {
  return actor?.replace(/\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '$1') ?? null;
}

export function historyTable(events: JobEvent[]): string {
  return `${table(
    ['seq', 'at', 'event', 'from', 'to', 'actor', 'payload'],
    events.map((e) => [e.seq, iso(e.at), e.type, e.stateBefore, e.stateAfter, shortActor(e.actor), e.payload ? JSON.stringify(e.payload) : null]),
    { shrink: ['payload', 'actor'] },
  )}\n`;
}

/** One job as `field  value` lines, the values cut to the terminal's width. */
export function jobDetails(job: Job): string {
  const fields: Array<[string, string | null]> = [
    ['job', `${job.id}  ${job.lifecycle}@${job.lifecycleVersion}  ${job.type}`],
    ['state', `${typeof job.stateValue === 'string' ? job.state : JSON.stringify(job.stateValue)}${job.outcome ? ` (${job.outcome})` : ''}${job.cancelRequested ? ', cancel requested' : ''}`],
    ['owner', job.owner],
    ['run id', job.runId],
    ['progress', `${job.progress.percent.toFixed(0)}%${job.progress.message ? `  ${job.progress.message}` : ''}`],
    ['attempt', String(job.attempt)],
    ['created', iso(job.createdAt)],
    ['started', iso(job.startedAt)],
    ['ended', iso(job.endedAt)],
    ['params', JSON.stringify(job.params)],
    ['result', job.result === null ? null : JSON.stringify(job.result)],
    ['question', job.question === null ? null : JSON.stringify(job.question)],
    ['reply', job.reply === null ? null : JSON.stringify(job.reply)],
    ...job.errors.map((e): [string, string] => ['error', `${e.message} (attempt ${e.attempt}${e.kind ? `, ${e.kind}` : ''})`]),
  ];
  const width = terminalWidth();
  return fields
    .filter(([, value]) => value !== null)
    .map(([name, value]) => clip(`${name.padEnd(9)} ${oneLine(value!)}`, width))
    .map((l) => `${l}\n`)
    .join('');
}

/** Ids listed after a group's first jobs. */
const MORE_IDS = 10;

/**
 * A replay in a few lines: each cause with its number of jobs, its first jobs and their first
 * differing event, then `replayed N jobs, M diverged`.
 */
export function replayLines(report: HistoryReplayReport): string {
  const lines: string[] = [];
  for (const group of report.causes) {
    lines.push(`${group.jobs} ${group.jobs === 1 ? 'job' : 'jobs'}: ${group.description}`);
    for (const { jobId, divergence } of group.first) lines.push(`job ${jobId}: ${describeDivergence(divergence)}`);
    const rest = group.jobIds.slice(group.first.length);
    if (rest.length > 0) {
      const more = rest.length > MORE_IDS ? `, ... (${rest.length - MORE_IDS} more)` : '';
      lines.push(`  and ${rest.length} more: jobs ${rest.slice(0, MORE_IDS).join(', ')}${more}`);
    }
  }
  lines.push(`replayed ${report.jobs} jobs, ${report.diverged} diverged`);
  return lines.map((l) => `${l}\n`).join('');
}

export function upgradeLines(report: UpgradeReport): string {
  const to = `${report.lifecycle}@${report.to}`;
  const lines = [
    ...report.upgraded.map(({ jobId, from }) => `job ${jobId}: ${report.lifecycle}@${from} -> ${to}${report.dryRun ? ' (dry run)' : ''}`),
    ...report.kept.map(({ jobId, from, reason }) => `job ${jobId}: stays on ${report.lifecycle}@${from}: ${reason}`),
    `${report.dryRun ? 'would upgrade' : 'upgraded'} ${report.upgraded.length} ${report.upgraded.length === 1 ? 'job' : 'jobs'} to ${to}, ${report.kept.length} kept${report.dryRun ? ' (dry run: nothing written)' : ''}`,
  ];
  return lines.map((l) => `${l}\n`).join('');
}
