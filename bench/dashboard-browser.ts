/**
 * The dashboard in a real browser at 1,000,000 jobs on SQLite: fills a file (the jobs of
 * bench/dashboard-queries.ts: five lifecycles, 100 owners, some drafts, one in 50 cancelled) plus
 * one job with a long history (thousands of progress events), serves the dashboard on it in this
 * process (createHttpApp with the dashboard, node:http, a free port) and loads each kind of page in
 * Debian's Chromium through playwright-core: median of several loads after a warm-up, the browser's
 * navigation timing (responseStart, domContentLoaded, load) and the server's own time per request.
 *
 *   npx tsx bench/dashboard-browser.ts [--jobs=1000000] [--db FILE] [--runs=7] [--events=2000]
 *
 * A file already filled (any jobs in it) is reused as it is.
 */
import { createAdaptorServer } from '@hono/node-server';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpApp } from '../src/http/app.ts';
import { createPhaseline, defineJobType, type Phaseline } from '../src/index.ts';
import { engineOf } from '../src/internal.ts';
import { launchBrowser } from '../test/support/browser.ts';
import { enqueueDashboardJobs, registerDashboardTypes } from './lib/dashboard-jobs.ts';

const arg = (name: string) => {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = process.argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : process.argv[i + 1];
};
const JOBS = Number(arg('jobs') ?? 1_000_000);
const FILE = arg('db') ?? join(tmpdir(), `phaseline-dashboard-browser-${JOBS}.db`);
const RUNS = Number(arg('runs') ?? 7);
const EVENTS = Number(arg('events') ?? 2_000);
const BATCH = 10_000;

/** The job type whose one job reports progress EVENTS times, for a long history. */
const LONG = 'long-report';

function open(): Phaseline {
  return registerDashboardTypes(createPhaseline({ db: FILE }));
}

/** One job that reports progress EVENTS times then succeeds, run by workers that know only its type. */
async function longJob(): Promise<number> {
  const phaseline = createPhaseline({ db: FILE });
  phaseline.register(defineJobType({
    name: LONG, lifecycle: 'uws', attempts: 1,
    handler: async (ctx) => {
      for (let i = 1; i <= EVENTS; i++) await ctx.progress(Math.floor((i * 100) / (EVENTS + 1)), `step ${i} of ${EVENTS}`);
      return { steps: EVENTS };
    },
  }));
  const id = await phaseline.enqueue(LONG, { steps: EVENTS });
  phaseline.start({ pollIntervalMs: 10, progressIntervalMs: 0 });
  const started = performance.now();
  while (!(await phaseline.get(id)).terminal) {
    if (performance.now() - started > 600_000) throw new Error('the long job did not end in 10 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
  await phaseline.close();
  return id;
}

async function fill(phaseline: Phaseline): Promise<void> {
  const started = performance.now();
  const made = await enqueueDashboardJobs(phaseline, JOBS, BATCH);
  const engine = engineOf(phaseline);
  const range = engine.idRange()!;
  let cancelled = 0;
  engine.transaction(() => {
    for (let id = range.min + 1; id <= range.max; id += 50) {
      engine.send(id, { type: 'CANCEL' });
      cancelled++;
    }
  });
  console.log(`filled ${made.toLocaleString('en')} jobs, cancelled ${cancelled.toLocaleString('en')} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const fresh = !existsSync(FILE);
  let longId: number | null = null;
  if (fresh) {
    const t = performance.now();
    longId = await longJob();
    console.log(`long job ${longId}: ${EVENTS} progress reports run in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const phaseline = open();
  const engine = engineOf(phaseline);
  if (fresh) await fill(phaseline);
  const range = engine.idRange();
  if (!range) throw new Error(`${FILE} holds no jobs`);
  if (longId === null) longId = range.min; // made first, before the fill
  const longEvents = (await phaseline.history(longId)).length;
  const total = range.max - range.min + 1;

  // The server's own time for each request, from the request to the finished body, and as Server-Timing.
  const app = createHttpApp(phaseline, { dashboard: true });
  const serverMs = new Map<string, number[]>();
  const server = createAdaptorServer({
    fetch: async (request: Request) => {
      const t = performance.now();
      const response = await app.fetch(request);
      const url = new URL(request.url);
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) return response;
      const body = await response.arrayBuffer();
      const ms = performance.now() - t;
      const key = url.pathname + url.search;
      serverMs.set(key, [...(serverMs.get(key) ?? []), ms]);
      const headers = new Headers(response.headers);
      headers.set('Server-Timing', `app;dur=${ms.toFixed(2)}`);
      return new Response(body, { status: response.status, headers });
    },
  }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = `${origin}/dashboard`;

  const browser = await launchBrowser();
  const page = await browser.context.newPage();

  interface Row { name: string; url: string; server: number; responseStart: number; dcl: number; load: number; kb: number; status: number }
  const rows: Row[] = [];
  async function measure(name: string, path: string): Promise<void> {
    const url = `${base}${path}`;
    const key = new URL(url).pathname + new URL(url).search;
    const samples: Array<{ responseStart: number; dcl: number; load: number; kb: number; status: number }> = [];
    for (let i = 0; i <= RUNS; i++) {
      const response = await page.goto(url, { waitUntil: 'load' });
      const nav = await page.evaluate(() => {
        // In the page (the DOM's PerformanceNavigationTiming; this file is typed for Node).
        const timing = performance as unknown as { getEntriesByType(type: string): Array<Record<'startTime' | 'responseStart' | 'domContentLoadedEventEnd' | 'loadEventEnd' | 'decodedBodySize', number>> };
        const e = timing.getEntriesByType('navigation')[0]!;
        return { responseStart: e.responseStart - e.startTime, dcl: e.domContentLoadedEventEnd - e.startTime, load: e.loadEventEnd - e.startTime, kb: e.decodedBodySize / 1024 };
      });
      if (i > 0) samples.push({ ...nav, status: response?.status() ?? 0 }); // the first is the warm-up
    }
    const server = serverMs.get(key)?.slice(1) ?? [];
    const row = {
      name, url: path, server: median(server), responseStart: median(samples.map((s) => s.responseStart)),
      dcl: median(samples.map((s) => s.dcl)), load: median(samples.map((s) => s.load)), kb: samples[0]!.kb, status: samples[0]!.status,
    };
    rows.push(row);
    console.log(`${name}: server ${row.server.toFixed(1)} ms, responseStart ${row.responseStart.toFixed(1)}, DOMContentLoaded ${row.dcl.toFixed(1)}, load ${row.load.toFixed(1)} ms, ${row.kb.toFixed(0)} KiB, ${row.status}`);
  }

  // The deep page reached by following "Older" five times from the first page.
  await page.goto(`${base}/`);
  for (let i = 0; i < 5; i++) await Promise.all([page.waitForURL((u) => u.searchParams.has('before') && u.searchParams.get('trail')!.split(',').length === i + 1), page.click('a[rel="next"]')]);
  const olderFive = new URL(page.url());
  const some = range.min + Math.floor(total / 3);

  await measure('jobs list, first page', '/');
  await measure('filter: lifecycle uws + state ABORTED (rare)', '/?lifecycle=uws&state=ABORTED');
  await measure('filter: state ABORTED (rare)', '/?state=ABORTED');
  await measure('filter: owner-7', '/?owner=owner-7');
  await measure('filter: type circuit', '/?type=circuit');
  await measure('deep page: "Older" followed 5 times', olderFive.pathname.slice('/dashboard'.length) + olderFive.search);
  await measure('deep page: before = oldest + 1,000', `/?before=${range.min + 1_000}`);
  await measure('search by id', `/?id=${some}`);
  await measure('job page, an ordinary job', `/jobs/${some}`);
  await measure(`job page, ${longEvents.toLocaleString('en')} events`, `/jobs/${longId}`);
  await measure(`job page, ${longEvents.toLocaleString('en')} events, step ${Math.floor(longEvents / 2)}`, `/jobs/${longId}?step=${Math.floor(longEvents / 2)}`);
  await measure('lifecycles page', '/lifecycles');

  console.log(`\n${total.toLocaleString('en')} jobs in ${FILE}; median of ${RUNS} loads after one warm-up; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  console.log('| page | server ms | responseStart ms | DOMContentLoaded ms | load ms | HTML KiB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.name} | ${r.server.toFixed(1)} | ${r.responseStart.toFixed(1)} | ${r.dcl.toFixed(1)} | ${r.load.toFixed(1)} | ${r.kb.toFixed(0)} |`);

  await browser.close();
  await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  await phaseline.close();
}

await main();
