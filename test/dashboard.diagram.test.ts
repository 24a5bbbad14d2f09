/**
 * The dashboard's lifecycle diagram (src/dashboard/diagram.ts): every state and transition of each
 * built-in machine drawn once, nodes apart, the path read from real job histories (jobs run by a
 * facade on a SQLite file: success, retries, ask and reply, cancellation) matching the history
 * event for event and the SVG's taken arrows, and a user lifecycle's hostile state names escaped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { builtInLifecycles, defineLifecycle } from '../machines/index.ts';
import type { Lifecycle } from '../machines/common.ts';
import { diagramOf, pathOf, renderDiagramSvg, type LifecycleDiagram, type PathEdge } from '../src/dashboard/diagram.ts';
import type { JobEvent } from '../src/engine/job-types.ts';
import { createPhaseline, type Phaseline } from '../src/phaseline.ts';
import { transitionTableOf } from '../src/testing/index.ts';
import { waitFor } from './helpers/wait.ts';

const LIFECYCLES = Object.values(builtInLifecycles) as Lifecycle[];

// ── The machine's transitions, read from its configuration (not from XState's state nodes, which the diagram reads) ──

interface RawState {
  on?: Record<string, unknown>;
  states?: Record<string, RawState>;
}

/** The top-level state a configured target names: `R`, `#ecotaxa.E.killed`, a sibling of a nested state. */
function topOfTarget(target: string, machineId: string, top: string, nested: boolean): string {
  if (target.startsWith('#')) {
    const path = target.slice(1).split('.');
    expect(path[0]).toBe(machineId);
    return path[1]!;
  }
  if (target.startsWith('.')) return top; // a child of the state itself
  return nested ? top : target.split('.')[0]!; // a sibling: of a nested state, inside the same top-level state
}

function configuredTransitions(lifecycle: Lifecycle): Set<string> {
  const config = lifecycle.machine.config as { id: string; states: Record<string, RawState> };
  const out = new Set<string>();
  const visit = (state: RawState, top: string, nested: boolean): void => {
    for (const [event, spec] of Object.entries(state.on ?? {})) {
      for (const branch of [spec].flat() as Array<string | { target?: string | string[] }>) {
        const targets = typeof branch === 'string' ? [branch] : branch.target === undefined ? [] : [branch.target].flat();
        if (targets.length === 0) out.add(JSON.stringify([top, event, top]));
        for (const target of targets) out.add(JSON.stringify([top, event, topOfTarget(target, config.id, top, nested)]));
      }
    }
    for (const child of Object.values(state.states ?? {})) visit(child, top, true);
  };
  for (const [name, state] of Object.entries(config.states)) visit(state, name, false);
  return out;
}

function drawnTransitions(diagram: LifecycleDiagram): string[] {
  return diagram.edges.flatMap((edge) => edge.events.map((event) => JSON.stringify([edge.from, event, edge.to])));
}

describe('diagramOf, for every built-in lifecycle', () => {
  for (const lifecycle of LIFECYCLES) {
    test(`${lifecycle.name}: each state once, each transition of the machine once, nothing else`, () => {
      const diagram = diagramOf(lifecycle);
      const states = Object.keys((lifecycle.machine.config as { states: object }).states);
      expect(diagram.nodes.map((node) => node.id)).toEqual(states);
      const drawn = drawnTransitions(diagram);
      expect(new Set(drawn).size).toBe(drawn.length); // none twice
      expect(new Set(drawn)).toEqual(configuredTransitions(lifecycle));
      // One arrow per pair of states.
      const pairs = diagram.edges.map((edge) => `${edge.from}→${edge.to}`);
      expect(new Set(pairs).size).toBe(pairs.length);
      expect(diagram.nodes.filter((node) => node.initial).map((node) => node.id)).toEqual([diagram.initial]);
    });

    test(`${lifecycle.name}: every transition the machine takes (its pinned table) is drawn`, () => {
      const drawn = new Set(drawnTransitions(diagramOf(lifecycle)));
      const table = transitionTableOf(lifecycle);
      let cells = 0;
      for (const [state, row] of Object.entries(table)) {
        for (const [key, to] of Object.entries(row)) {
          cells++;
          expect(drawn, `${state} × ${key} → ${to}`).toContain(JSON.stringify([state.split(/[.+]/)[0], key.split('+')[0], to.split('.')[0]]));
        }
      }
      expect(cells).toBeGreaterThan(3);
    });

    test(`${lifecycle.name}: no two nodes overlap, every route inside the drawing`, () => {
      const diagram = diagramOf(lifecycle);
      for (const a of diagram.nodes) {
        for (const b of diagram.nodes) {
          if (a === b) continue;
          const apart = Math.abs(a.x - b.x) >= (a.width + b.width) / 2 || Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
          expect(apart, `${a.id} and ${b.id} overlap`).toBe(true);
        }
        expect(a.x - a.width / 2).toBeGreaterThanOrEqual(0);
        expect(a.y - a.height / 2).toBeGreaterThanOrEqual(0);
        expect(a.x + a.width / 2).toBeLessThanOrEqual(diagram.width);
        expect(a.y + a.height / 2).toBeLessThanOrEqual(diagram.height);
      }
      for (const edge of diagram.edges) {
        expect(edge.points.length).toBeGreaterThanOrEqual(2);
        for (const p of edge.points) {
          expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
          expect(p.x).toBeGreaterThanOrEqual(0);
          expect(p.x).toBeLessThanOrEqual(diagram.width);
        }
      }
    });
  }

  test('is computed once per lifecycle name and version', () => {
    expect(diagramOf(builtInLifecycles.uws)).toBe(diagramOf(builtInLifecycles.uws));
  });
});

// ── Real histories ──────────────────────────────────────────────────────────────────────────────

const dirs: string[] = [];
const opened: Phaseline[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close(0);
});
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(): Phaseline {
  const dir = mkdtempSync(join(tmpdir(), 'phaseline-diagram-'));
  dirs.push(dir);
  const p = createPhaseline({ file: join(dir, 'jobs.db') });
  opened.push(p);
  return p;
}

/** The SVG's taken arrows, as the attributes say. */
function takenInSvg(svg: string): Array<{ from: string; to: string; count: number; order: number[] }> {
  const out = [];
  for (const [tag] of svg.matchAll(/<path [^>]*class="pl-edge taken"[^>]*>/g)) {
    const attr = (name: string) => tag.match(new RegExp(`${name}="([^"]*)"`))![1]!;
    out.push({ from: attr('data-from'), to: attr('data-to'), count: Number(attr('data-count')), order: attr('data-order').split(' ').map(Number) });
  }
  return out;
}

/** Checks pathOf against the history edge for edge, against the diagram, and against the SVG. */
function checkPath(lifecycle: Lifecycle, history: JobEvent[], state: string): PathEdge[] {
  const path = pathOf(history);
  const steps = history.filter((e) => e.type !== 'CREATE' && e.type !== 'UPGRADE');
  // Edge for edge: the traversals in place order are the history's events, in order.
  const traversals = path.flatMap((edge) => edge.order.map((place, i) => ({ place, from: edge.from, to: edge.to, seq: edge.seqs[i]!, edge })));
  traversals.sort((a, b) => a.place - b.place);
  expect(traversals.map((t) => t.place)).toEqual(steps.map((_, i) => i + 1));
  expect(traversals.map((t) => [t.from, t.to, t.seq])).toEqual(steps.map((e) => [e.stateBefore, e.stateAfter, e.seq]));
  for (const [i, t] of traversals.entries()) expect(t.edge.events).toContain(steps[i]!.type);
  for (const edge of path) expect(edge.count).toBe(edge.order.length);
  // Every traversal is an arrow of the diagram, with its event.
  const diagram = diagramOf(lifecycle);
  for (const step of steps) {
    const arrow = diagram.edges.find((edge) => edge.from === step.stateBefore && edge.to === step.stateAfter);
    expect(arrow?.events, `${step.stateBefore} → ${step.stateAfter} on ${step.type}`).toContain(step.type);
  }
  // The SVG marks exactly those arrows, with the counts and places.
  const svg = renderDiagramSvg(diagram, { path, current: state });
  const taken = takenInSvg(svg).sort((a, b) => a.order[0]! - b.order[0]!);
  expect(taken).toEqual(path.map(({ from, to, count, order }) => ({ from, to, count, order })).sort((a, b) => a.order[0]! - b.order[0]!));
  expect(svg.match(/<g class="pl-node current[^"]*" data-state="([^"]*)"/)?.[1]).toBe(state);
  return path;
}

describe('pathOf and the SVG, on real job histories (SQLite)', () => {
  test('a success: REQUESTED → PENDING → RUNNING (progress) → SUCCEEDED, each arrow once but the progress loop', async () => {
    const p = open();
    p.register({ name: 'ok', lifecycle: 'rime', attempts: 1, handler: async (ctx) => {
      await ctx.progress(30, 'a third');
      await ctx.progress(100, 'done');
      return 1;
    } });
    const id = await p.enqueue('ok', null);
    p.start({ pollIntervalMs: 10 });
    const job = await waitFor(async () => { const j = await p.get(id); return j.terminal ? j : null; }, 10_000, 'the job to end');
    const path = checkPath(builtInLifecycles.rime, await p.history(id), job.state);
    expect(path.map((e) => [e.from, e.to, e.count])).toEqual([
      ['JOB_STATUS_REQUESTED', 'JOB_STATUS_PENDING', 1],
      ['JOB_STATUS_PENDING', 'JOB_STATUS_RUNNING', 1],
      ['JOB_STATUS_RUNNING', 'JOB_STATUS_RUNNING', path.find((e) => e.from === e.to)!.count],
      ['JOB_STATUS_RUNNING', 'JOB_STATUS_SUCCEEDED', 1],
    ]);
    expect(path.find((e) => e.from === e.to)!.count).toBeGreaterThanOrEqual(1);
  });

  test('two failed attempts, then a success: the retry loop counted 2', async () => {
    const p = open();
    let calls = 0;
    p.register({ name: 'flaky', lifecycle: 'ecotaxa', attempts: 3, backoff: { baseMs: 1, maxMs: 2, jitter: false }, handler: async () => {
      if (++calls < 3) throw new Error(`attempt ${calls} fails`);
      return 'ok';
    } });
    const id = await p.enqueue('flaky', null);
    p.start({ pollIntervalMs: 10 });
    const job = await waitFor(async () => { const j = await p.get(id); return j.terminal ? j : null; }, 10_000, 'the job to end');
    expect(job.state).toBe('F');
    const path = checkPath(builtInLifecycles.ecotaxa, await p.history(id), job.state);
    expect(path.map((e) => [e.from, e.to, e.count, e.order])).toEqual([
      ['P', 'R', 3, [1, 3, 5]],
      ['R', 'P', 2, [2, 4]],
      ['R', 'F', 1, [6]],
    ]);
    expect(path[1]!.events).toEqual(['FAIL']);
  });

  test('three questions, each answered: the ask/reply loop counted 3', async () => {
    const p = open();
    p.register({ name: 'asks', lifecycle: 'ecotaxa', attempts: 1, handler: async (ctx) => {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await ctx.ask({ n: i }));
      return answers;
    } });
    p.on('job:transition', ({ job }) => {
      if (job.waiting) void p.reply(job.id, 'yes').catch(() => {});
    });
    const id = await p.enqueue('asks', null);
    p.start({ pollIntervalMs: 10 });
    const job = await waitFor(async () => { const j = await p.get(id); return j.terminal ? j : null; }, 10_000, 'the job to end');
    expect(job.state).toBe('F');
    const path = checkPath(builtInLifecycles.ecotaxa, await p.history(id), job.state);
    const count = (from: string, to: string) => path.find((e) => e.from === from && e.to === to)?.count;
    expect([count('P', 'R'), count('R', 'A'), count('A', 'P'), count('R', 'F')]).toEqual([4, 3, 3, 1]);
  });

  test('cancellations: a UWS draft, a queued job, a running one', async () => {
    const p = open();
    let started = false;
    p.register({ name: 'slow', lifecycle: 'uws', attempts: 1, handler: async (ctx) => {
      started = true;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      return null;
    } });
    const draft = await p.enqueue('slow', null, { start: false });
    const queued = await p.enqueue('slow', null, { runAt: Date.now() + 3_600_000 });
    await p.cancel(draft);
    await p.cancel(queued);
    const running = await p.enqueue('slow', null);
    p.start({ pollIntervalMs: 10 });
    await waitFor(() => started, 10_000, 'the handler to start');
    await p.cancel(running);
    const ended = await waitFor(async () => { const j = await p.get(running); return j.terminal ? j : null; }, 10_000, 'the running job to end');
    const paths = [];
    for (const id of [draft, queued, running]) {
      const job = id === running ? ended : await p.get(id);
      expect(job.state).toBe('ABORTED');
      paths.push(checkPath(builtInLifecycles.uws, await p.history(id), job.state).map((e) => `${e.from}→${e.to}`));
    }
    expect(paths).toEqual([['PENDING→ABORTED'], ['PENDING→QUEUED', 'QUEUED→ABORTED'], ['PENDING→QUEUED', 'QUEUED→EXECUTING', 'EXECUTING→ABORTED']]);
  });

  test('upTo shows the path up to a place only', async () => {
    const path: PathEdge[] = [
      { from: 'P', to: 'R', events: ['CLAIM'], count: 2, order: [1, 3], seqs: [2, 4] },
      { from: 'R', to: 'P', events: ['FAIL'], count: 1, order: [2], seqs: [3] },
      { from: 'R', to: 'F', events: ['SUCCEED'], count: 1, order: [4], seqs: [5] },
    ];
    const svg = renderDiagramSvg(diagramOf(builtInLifecycles.ecotaxa), { path, upTo: 2 });
    expect(takenInSvg(svg)).toEqual([{ from: 'P', to: 'R', count: 1, order: [1] }, { from: 'R', to: 'P', count: 1, order: [2] }]);
  });
});

// ── Untrusted labels ────────────────────────────────────────────────────────────────────────────

describe('a user lifecycle with hostile state names', () => {
  const names = {
    queued: '<img src=x onerror=alert(1)>',
    running: `"run" & 'go'`,
    done: '</svg><script>alert(2)</script>',
    failed: ']]><!-- x',
    cancelled: 'ok',
  };
  const apply = { actions: 'apply' } as const;
  const hostile = defineLifecycle({
    name: 'hostile<b>', version: 1, initial: names.queued,
    states: {
      [names.queued]: { tags: ['queued'], on: { CLAIM: { target: names.running, ...apply }, CANCEL: { target: names.cancelled, ...apply } } },
      [names.running]: {
        tags: ['running'],
        on: {
          PROGRESS: apply,
          SUCCEED: { target: names.done, ...apply },
          FAIL: [{ guard: 'willRetry', target: names.queued, ...apply }, { target: names.failed, ...apply }],
          TIMEOUT: { target: names.failed, ...apply },
          LEASE_LOST: { target: names.failed, ...apply },
          RELEASE: { target: names.queued, ...apply },
          CANCEL: { target: names.cancelled, ...apply },
        },
      },
      [names.done]: { type: 'final', tags: ['terminal', 'succeeded'] },
      [names.failed]: { type: 'final', tags: ['terminal', 'failed'] },
      [names.cancelled]: { type: 'final', tags: ['terminal', 'cancelled'] },
    },
  });

  test('every label is escaped: only the diagram\'s own elements, and each name reads back from its attribute', () => {
    const diagram = diagramOf(hostile);
    const path = pathOf([
      { jobId: 1, seq: 1, at: 0, type: 'CREATE', payload: null, stateBefore: null, stateAfter: names.queued, actor: null },
      { jobId: 1, seq: 2, at: 1, type: 'CLAIM', payload: null, stateBefore: names.queued, stateAfter: names.running, actor: null },
      { jobId: 1, seq: 3, at: 2, type: 'SUCCEED', payload: null, stateBefore: names.running, stateAfter: names.done, actor: null },
    ]);
    const svg = renderDiagramSvg(diagram, { path, current: names.done, counts: { [names.queued]: 5 }, idPrefix: '"><x' });
    const elements = new Set([...svg.matchAll(/<\/?([A-Za-z][\w-]*)/g)].map((m) => m[1]));
    expect([...elements].sort()).toEqual(['defs', 'desc', 'g', 'marker', 'path', 'rect', 'style', 'svg', 'text', 'title', 'tspan']);
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('<img');
    expect(svg).not.toContain('<!--');
    const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    const states = [...svg.matchAll(/data-state="([^"]*)"/g)].map((m) => unescape(m[1]!));
    expect(states).toEqual(Object.keys((hostile.machine.config as { states: object }).states));
    expect(takenInSvg(svg).map((t) => [unescape(t.from), unescape(t.to)])).toEqual([[names.queued, names.running], [names.running, names.done]]);
    expect(svg).toContain(`data-lifecycle="hostile&lt;b&gt;"`);
    // The count is shown on its node.
    expect(svg).toMatch(/data-state="&lt;img src=x onerror=alert\(1\)&gt;" data-count="5"/);
  });
});
