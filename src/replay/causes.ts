/**
 * Divergences in words, and grouped by cause: jobs that differ for the same reason (the same
 * lifecycle version refusing the same event in the same state, the same column differing after the
 * same event) make one group, so a report over a million jobs reads as a few lines.
 */
import type { Divergence, DivergenceGroup, JobReplay } from './types.ts';

/** Jobs listed in full per group. */
const FIRST = 5;

const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** What a divergence is, without the job: the key of its group. */
export function describeCause(d: Divergence): string {
  const where = d.lifecycle === null ? '' : `${d.lifecycle}: `;
  const after = d.event === null ? '' : ` after ${d.event}${d.state === null ? '' : ` in ${d.state}`}`;
  switch (d.cause) {
    case 'refused':
      return `${where}${d.state ?? 'the state reached'} refuses ${d.event}`;
    case 'state':
      return `${where}${d.event}${d.state === null ? '' : ` in ${d.state}`} leads to ${text(d.replayed)}, not ${text(d.stored)}`;
    case 'tags':
      return `${where}${d.field === 'tags' ? 'tags' : `tag column ${d.field}`} differ${d.field === 'tags' ? '' : 's'}${after}`;
    case 'column':
      return `${where}column ${d.field} differs${after}`;
    case 'lifecycle':
      return `no lifecycle ${text(d.stored)} is loaded`;
    case 'threw':
      return `${where}the machine throws on ${d.event}${d.state === null ? '' : ` in ${d.state}`}`;
    case 'history':
      return `malformed history: ${text(d.stored)} where replay expects ${text(d.replayed)}`;
    case 'job':
      return 'no such job';
  }
}

/** One divergence of a job, in one line (without the job's id). */
export function describeDivergence(d: Divergence): string {
  const at = d.seq === null ? '' : `at event ${d.seq}${d.event === null ? '' : ` (${d.event})`}`;
  switch (d.cause) {
    case 'refused':
      return `${at}: ${d.lifecycle ?? 'the machine'} refuses ${d.event} in state ${d.state} (stored: ${text(d.stored)})`;
    case 'lifecycle':
      return `${at}: no lifecycle ${text(d.stored)} is loaded`;
    case 'threw':
      return `${at}: ${d.lifecycle ?? 'the machine'} ${text(d.replayed)}`;
    default:
      return `${d.field} diverges ${at}: stored ${JSON.stringify(d.stored)}, replayed ${JSON.stringify(d.replayed)}`;
  }
}

/** Diverged jobs by the cause of their first divergence, most jobs first (then by first job). */
export function groupByCause(reports: readonly JobReplay[]): DivergenceGroup[] {
  const groups = new Map<string, DivergenceGroup>();
  for (const report of reports) {
    const first = report.divergences[0];
    if (!first) continue;
    const description = describeCause(first);
    let group = groups.get(description);
    if (!group) groups.set(description, (group = { cause: first.cause, description, jobs: 0, jobIds: [], first: [] }));
    group.jobs++;
    group.jobIds.push(report.jobId);
    if (group.first.length < FIRST) group.first.push({ jobId: report.jobId, divergence: first });
  }
  return [...groups.values()].sort((a, b) => b.jobs - a.jobs || a.jobIds[0]! - b.jobIds[0]!);
}
