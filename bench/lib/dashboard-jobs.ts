/**
 * The jobs the dashboard benchmarks fill a database with (bench/dashboard-queries.ts,
 * bench/dashboard-browser.ts): one no-op job type per lifecycle, each a share of the jobs, 100
 * owners and the system's own jobs, one UWS or RIME job in ten left a draft. Deterministic (no
 * Math.random), so runs stay comparable.
 */
import { defineJobType, type Phaseline } from '../../src/index.ts';

/** One job type per lifecycle, each a share of the jobs. */
export const DASHBOARD_TYPES = [
  { name: 'cutout', lifecycle: 'uws', share: 0.3 },
  { name: 'classify', lifecycle: 'ecotaxa', share: 0.25 },
  { name: 'stress-test', lifecycle: 'rime', share: 0.2 },
  { name: 'query', lifecycle: 'synapse', share: 0.15 },
  { name: 'circuit', lifecycle: 'qiskit', share: 0.1 },
] as const;
const OWNERS = 100;

/** A deterministic spread of i over 0..n-1. */
const spread = (i: number, n: number) => Math.floor(((i * 2654435761) >>> 0) / 2 ** 32 * n);

export function registerDashboardTypes(phaseline: Phaseline): Phaseline {
  for (const type of DASHBOARD_TYPES) phaseline.register(defineJobType({ name: type.name, lifecycle: type.lifecycle, attempts: 1, handler: async () => null }));
  return phaseline;
}

/** Enqueues about `jobs` jobs in batches of `batch` through `enqueueMany`; returns how many. */
export async function enqueueDashboardJobs(phaseline: Phaseline, jobs: number, batch: number): Promise<number> {
  let made = 0;
  for (const type of DASHBOARD_TYPES) {
    const count = Math.round(jobs * type.share);
    for (let done = 0; done < count; done += batch) {
      const items = Array.from({ length: Math.min(batch, count - done) }, (_, k) => {
        const i = made + done + k;
        const owner = spread(i, OWNERS + 1);
        // One UWS job in ten stays a draft (PENDING), one RIME job in ten REQUESTED.
        const start = !(type.lifecycle === 'uws' || type.lifecycle === 'rime') || spread(i + 7, 10) !== 0;
        return { params: { i }, owner: owner === OWNERS ? null : `owner-${owner}`, start };
      });
      await phaseline.enqueueMany(type.name, items);
    }
    made += count;
  }
  return made;
}
