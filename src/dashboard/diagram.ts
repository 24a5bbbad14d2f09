/**
 * A lifecycle's state diagram for the dashboard, as pure functions (no DOM): the machine's states
 * and transitions laid out with dagre ({@link diagramOf}), the edges a job took read from its
 * history ({@link pathOf}), and an accessible SVG string of both ({@link renderDiagramSvg}).
 *
 * Nodes are the top-level states, named as a job's `state` shows them (the lifecycle's own
 * spelling); nested states (EcoTaxa `E.error`, `E.killed`) are listed inside their parent, because
 * the wire, the listing and the history speak of the parent only. An edge is one arrow per pair of
 * states, with every event that takes it (a state's self-loops, PROGRESS, STEP, SET..., are one
 * arrow). Labels come from a user's lifecycle and are escaped wherever they are written.
 */
import dagre from '@dagrejs/dagre';
import type { Lifecycle } from '../../machines/common.ts';
import type { JobEvent } from '../engine/job-types.ts';

export interface Point {
  x: number;
  y: number;
}

export interface DiagramNode {
  /** The top-level state, as a job's `state` spells it. */
  id: string;
  /** Nested states, by their own key (`error`, `killed` of EcoTaxa `E`). */
  children: string[];
  /** The self-loop's events as the node shows them (`↻ PROGRESS, STEP, SET`), wrapped; none without one. */
  loop: string[];
  /** The state node's own tags (`queued`, `running`, `terminal`...). */
  tags: string[];
  initial: boolean;
  /** A final state, or one tagged `terminal`. */
  terminal: boolean;
  /** Centre of the node, and its size. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DiagramEdge {
  /** `from→to`, unique in the diagram. */
  id: string;
  from: string;
  to: string;
  /** Every event type that takes a job from `from` to `to`, in the machine's order. */
  events: string[];
  selfLoop: boolean;
  /**
   * The route, first point at `from`, last at `to`; a self-loop's are the arc's ends and its two
   * control points (drawn as one cubic curve on the node's right).
   */
  points: Point[];
  /** Where the event label goes (centre) and its size; a self-loop's label is in its node ({@link DiagramNode.loop}). */
  label: { x: number; y: number; width: number; height: number; lines: string[] };
}

export interface LifecycleDiagram {
  lifecycle: string;
  version: number;
  initial: string;
  width: number;
  height: number;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

/** One arrow of a diagram a job went along, and when. */
export interface PathEdge {
  from: string;
  to: string;
  /** The event types it went along this arrow with, in the order first taken. */
  events: string[];
  /** How many times (a retry loop, an ask and its reply, each progress report). */
  count: number;
  /** The 1-based place of each traversal along the job's path, in order. */
  order: number[];
  /** The history sequence number of each traversal's event, in order. */
  seqs: number[];
}

export interface RenderOptions {
  /** The job's path ({@link pathOf}): its arrows get class `taken`, `data-count` and `data-order`. */
  path?: PathEdge[];
  /** The job's state now: its node gets class `current`. */
  current?: string;
  /** Jobs per state, shown on each node. */
  counts?: Record<string, number>;
  /** Prefix of the ids inside the SVG, so several can share a page. Default `pl-`. */
  idPrefix?: string;
  /** Show the path only up to this place (a scrubber replaying the job step by step). */
  upTo?: number;
}

// ── The machine's states and transitions ──────────────────────────────────────────────────────

interface StateNodeLike {
  key: string;
  type: string;
  tags: readonly string[];
  path: readonly string[];
  states: Record<string, StateNodeLike>;
  transitions: Map<string, ReadonlyArray<{ target?: readonly StateNodeLike[] | undefined }>>;
}

/** One (from, event, to) of the machine, between top-level states. */
export interface MachineTransition {
  from: string;
  event: string;
  to: string;
}

/**
 * The machine's transitions between top-level states: each (from, event, to) once, guarded
 * alternatives and nested states' own transitions included, a transition without a target a
 * self-loop. XState's internal events and wildcards are left out (no built-in machine has them).
 */
export function machineTransitions(lifecycle: Lifecycle): MachineTransition[] {
  const root = lifecycle.machine.root as unknown as StateNodeLike;
  const seen = new Set<string>();
  const out: MachineTransition[] = [];
  const visit = (node: StateNodeLike, top: string): void => {
    for (const [event, definitions] of node.transitions) {
      if (event.startsWith('xstate.') || event.includes('*')) continue;
      for (const definition of definitions) {
        const targets = definition.target?.length ? definition.target.map((t) => t.path[0]!) : [top];
        for (const to of targets) {
          const key = JSON.stringify([top, event, to]);
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ from: top, event, to });
        }
      }
    }
    for (const child of Object.values(node.states)) visit(child, top);
  };
  for (const [key, state] of Object.entries(root.states)) visit(state, key);
  return out;
}

// ── Layout ────────────────────────────────────────────────────────────────────────────────────

/** Glyph width and line height the layout reserves (a monospace-ish estimate; the SVG's font is set to match). */
const CHAR = 7.2;
const LINE = 15;
const LABEL_CHARS = 28;
/** Room on a node's right for its self-loop's arc. */
const LOOP = 26;

/** Event names as lines of at most {@link LABEL_CHARS} characters, so a long list wraps. */
function labelLines(events: readonly string[]): string[] {
  const lines: string[] = [];
  let line = '';
  for (const event of events) {
    const next = line ? `${line}, ${event}` : event;
    if (line && next.length > LABEL_CHARS) {
      lines.push(`${line},`);
      line = event;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

const cache = new Map<string, { machine: unknown; diagram: LifecycleDiagram }>();

/** The laid-out diagram of a lifecycle, computed once per name and version (and machine). */
export function diagramOf(lifecycle: Lifecycle): LifecycleDiagram {
  const key = `${lifecycle.name}@${lifecycle.version}`;
  const cached = cache.get(key);
  if (cached && cached.machine === lifecycle.machine) return cached.diagram;
  const diagram = layoutOf(lifecycle);
  cache.set(key, { machine: lifecycle.machine, diagram });
  return diagram;
}

function layoutOf(lifecycle: Lifecycle): LifecycleDiagram {
  const root = lifecycle.machine.root as unknown as StateNodeLike & { initial?: { target?: readonly StateNodeLike[] } };
  const initial = root.initial?.target?.[0]?.path[0] ?? Object.keys(root.states)[0]!;
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 56, edgesep: 16, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const states = Object.entries(root.states);
  // One arrow per pair of states, its events in the machine's order.
  const byPair = new Map<string, { from: string; to: string; events: string[] }>();
  for (const t of machineTransitions(lifecycle)) {
    const id = `${t.from}→${t.to}`;
    let edge = byPair.get(id);
    if (!edge) byPair.set(id, (edge = { from: t.from, to: t.to, events: [] }));
    if (!edge.events.includes(t.event)) edge.events.push(t.event);
  }
  // A self-loop is drawn by the node (a small arc on its right, its events inside the node):
  // dagre routes them around a dummy node, far from the state they belong to.
  const loops = new Map<string, string[]>();
  for (const [id, state] of states) {
    const children = Object.keys(state.states);
    const loop = byPair.get(`${id}→${id}`);
    const loopLines = loop ? labelLines(loop.events).map((line, i) => (i === 0 ? `↻ ${line}` : `  ${line}`)) : [];
    loops.set(id, loopLines);
    const chars = Math.max(id.length, ...children.map((c) => c.length + 2), ...loopLines.map((l) => l.length * 0.85));
    const height = 34 + children.length * LINE + loopLines.length * LINE * 0.85 + (children.length || loopLines.length ? 6 : 0);
    // The layout keeps room on the right for the loop's arc.
    g.setNode(id, { width: Math.ceil(chars * CHAR + 28) + (loop ? LOOP : 0), height: Math.ceil(height) });
  }
  for (const edge of byPair.values()) {
    if (edge.from === edge.to) continue;
    const lines = labelLines(edge.events);
    const width = Math.ceil(Math.max(...lines.map((l) => l.length)) * CHAR * 0.85 + 8);
    g.setEdge(edge.from, edge.to, { width, height: lines.length * LINE * 0.85 + 4, labelpos: 'c', lines });
  }
  dagre.layout(g);
  const nodes: DiagramNode[] = states.map(([id, state]) => {
    const box = g.node(id) as { x: number; y: number; width: number; height: number };
    const width = box.width - (byPair.has(`${id}→${id}`) ? LOOP : 0);
    return {
      id,
      children: Object.keys(state.states),
      loop: loops.get(id)!,
      tags: [...state.tags],
      initial: id === initial,
      terminal: state.type === 'final' || state.tags.includes('terminal'),
      x: box.x - (box.width - width) / 2, y: box.y, width, height: box.height,
    };
  });
  const nodeOf = new Map(nodes.map((node) => [node.id, node]));
  const edges: DiagramEdge[] = [...byPair].map(([id, edge]) => {
    if (edge.from === edge.to) {
      const node = nodeOf.get(edge.from)!;
      const right = node.x + node.width / 2;
      const top = node.y - node.height / 2;
      return {
        id, from: edge.from, to: edge.to, events: edge.events, selfLoop: true,
        points: [{ x: right, y: top + 8 }, { x: right + LOOP - 6, y: top + 4 }, { x: right + LOOP - 6, y: top + 26 }, { x: right, y: top + 22 }],
        label: { x: node.x, y: node.y, width: 0, height: 0, lines: [] },
      };
    }
    const e = g.edge(edge.from, edge.to) as { points: Point[]; x: number; y: number; width: number; height: number; lines: string[] };
    const points = e.points.map((p) => ({ x: p.x, y: p.y }));
    // dagre ends the route on the box it laid out, which holds a self-loop's room too: end it on the drawn node.
    points[0] = boundaryToward(nodeOf.get(edge.from)!, points[1]!);
    points[points.length - 1] = boundaryToward(nodeOf.get(edge.to)!, points[points.length - 2]!);
    return {
      id, from: edge.from, to: edge.to, events: edge.events, selfLoop: false,
      points,
      label: { x: e.x, y: e.y, width: e.width, height: e.height, lines: e.lines },
    };
  });
  const graph = g.graph() as { width?: number; height?: number };
  return { lifecycle: lifecycle.name, version: lifecycle.version, initial, width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), nodes, edges };
}

/** Where the line from a node's centre toward `p` leaves its box (as dagre's own intersectRect). */
function boundaryToward(node: DiagramNode, p: Point): Point {
  const dx = p.x - node.x;
  const dy = p.y - node.y;
  const w = node.width / 2;
  const h = node.height / 2;
  if (dx === 0 && dy === 0) return { x: node.x, y: node.y + h };
  const scale = Math.abs(dy) * w > Math.abs(dx) * h ? h / Math.abs(dy) : w / Math.abs(dx);
  return { x: node.x + dx * scale, y: node.y + dy * scale };
}

// ── A job's path ──────────────────────────────────────────────────────────────────────────────

/**
 * The arrows a job went along, from its history: one entry per arrow (pair of states), in the
 * order first taken, with how often and when. The creation is where the path starts, not an
 * arrow; an UPGRADE (a move to another version of the machine, in place) is not a transition of
 * either machine and is left out.
 */
export function pathOf(history: readonly JobEvent[]): PathEdge[] {
  const edges = new Map<string, PathEdge>();
  let place = 0;
  for (const event of [...history].sort((a, b) => a.seq - b.seq)) {
    if (event.stateBefore === null || event.type === 'CREATE' || event.type === 'UPGRADE') continue;
    place++;
    const key = JSON.stringify([event.stateBefore, event.stateAfter]);
    let edge = edges.get(key);
    if (!edge) edges.set(key, (edge = { from: event.stateBefore, to: event.stateAfter, events: [], count: 0, order: [], seqs: [] }));
    if (!edge.events.includes(event.type)) edge.events.push(event.type);
    edge.count++;
    edge.order.push(place);
    edge.seqs.push(event.seq);
  }
  return [...edges.values()];
}

// ── SVG ───────────────────────────────────────────────────────────────────────────────────────

/** Text and attribute values: every character markup could read. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const n = (value: number) => (Math.round(value * 10) / 10).toString();

/**
 * Colours only through classes and CSS variables: system colours (Canvas, CanvasText) follow the
 * page's light or dark scheme, and a page may set `--pl-*` to its theme's.
 */
const STYLE = `
.pl-diagram { color: var(--pl-fg, CanvasText); font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.pl-diagram text { fill: currentColor; }
.pl-node rect { fill: var(--pl-node-bg, Canvas); stroke: var(--pl-node-border, currentColor); stroke-width: 1; }
.pl-node.terminal rect { stroke-width: 2; }
.pl-node.initial rect { stroke-dasharray: 4 2; }
.pl-node.visited rect { stroke: var(--pl-taken, #3b82f6); }
.pl-node.current rect { stroke: var(--pl-current, #f59e0b); stroke-width: 3; }
.pl-node .pl-child { opacity: 0.75; }
.pl-node .pl-count { font-weight: bold; }
.pl-edge { fill: none; stroke: currentColor; stroke-opacity: 0.45; stroke-width: 1; }
.pl-edge.taken { stroke: var(--pl-taken, #3b82f6); stroke-opacity: 1; stroke-width: 2.5; }
.pl-edge-label, .pl-loop { font-size: 10px; opacity: 0.8; }
.pl-loop.taken { opacity: 1; font-weight: bold; }
.pl-edge-label.taken { opacity: 1; font-weight: bold; }
.pl-arrowhead { fill: currentColor; fill-opacity: 0.6; }
.pl-arrowhead.taken { fill: var(--pl-taken, #3b82f6); fill-opacity: 1; }
`;

/** A smooth route through dagre's points (quadratic curves through their midpoints); a self-loop's arc. */
function routeOf(edge: DiagramEdge): string {
  const p = edge.points;
  if (edge.selfLoop) return `M${n(p[0]!.x)},${n(p[0]!.y)} C${n(p[1]!.x)},${n(p[1]!.y)} ${n(p[2]!.x)},${n(p[2]!.y)} ${n(p[3]!.x)},${n(p[3]!.y)}`;
  const parts = [`M${n(p[0]!.x)},${n(p[0]!.y)}`];
  for (let i = 1; i < p.length - 1; i++) {
    const mid = { x: (p[i]!.x + p[i + 1]!.x) / 2, y: (p[i]!.y + p[i + 1]!.y) / 2 };
    parts.push(i === p.length - 2 ? `Q${n(p[i]!.x)},${n(p[i]!.y)} ${n(p[i + 1]!.x)},${n(p[i + 1]!.y)}` : `Q${n(p[i]!.x)},${n(p[i]!.y)} ${n(mid.x)},${n(mid.y)}`);
  }
  if (p.length === 2) parts.push(`L${n(p[1]!.x)},${n(p[1]!.y)}`);
  return parts.join(' ');
}

/** The path as it stood at place `upTo`: only the traversals up to there. */
function pathUpTo(path: readonly PathEdge[], upTo: number | undefined): PathEdge[] {
  if (upTo === undefined) return [...path];
  return path
    .map((edge) => {
      const kept = edge.order.map((place, i) => ({ place, seq: edge.seqs[i]! })).filter(({ place }) => place <= upTo);
      return { ...edge, count: kept.length, order: kept.map((k) => k.place), seqs: kept.map((k) => k.seq) };
    })
    .filter((edge) => edge.count > 0);
}

/**
 * The path's steps in order, in words, a run of the same arrow said once with its length: a job
 * that reported progress 2,000 times is one phrase, not 2,000 (the description stays short).
 */
function pathInWords(path: readonly PathEdge[]): string {
  const steps = path.flatMap((e) => e.order.map((place) => ({ place, text: `${e.from} to ${e.to}` }))).sort((a, b) => a.place - b.place);
  const runs: Array<{ text: string; times: number }> = [];
  for (const { text } of steps) {
    const last = runs.at(-1);
    if (last?.text === text) last.times++;
    else runs.push({ text, times: 1 });
  }
  return runs.map(({ text, times }) => (times > 1 ? `${text} (${times} times)` : text)).join(', ');
}

/**
 * The diagram as an SVG string: `role="img"` with a title and a description, each state a `<g>`
 * with `data-state` (classes `current`, `visited`, `initial`, `terminal`), each arrow a `<path>`
 * with `data-from`, `data-to` and `data-event` (its events, space-separated), and on the job's
 * path class `taken` with `data-count` and `data-order` (its places, space-separated).
 */
export function renderDiagramSvg(diagram: LifecycleDiagram, options: RenderOptions = {}): string {
  const prefix = (options.idPrefix ?? 'pl-').replace(/[^A-Za-z0-9_-]/g, '_');
  const path = pathUpTo(options.path ?? [], options.upTo);
  const taken = new Map(path.map((edge) => [`${edge.from}→${edge.to}`, edge]));
  const visited = new Set(path.flatMap((edge) => [edge.from, edge.to]));
  const counts = options.counts ?? {};
  const title = `Lifecycle ${diagram.lifecycle}, version ${diagram.version}`;
  const description = [
    `States: ${diagram.nodes.map((node) => node.id).join(', ')}.`,
    options.current !== undefined ? `Current state: ${options.current}.` : '',
    path.length ? `Path taken: ${pathInWords(path)}.` : '',
  ].filter(Boolean).join(' ');
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="pl-diagram" role="img" viewBox="0 0 ${diagram.width} ${diagram.height}" width="${diagram.width}" height="${diagram.height}" aria-labelledby="${prefix}title ${prefix}desc" data-lifecycle="${escapeXml(diagram.lifecycle)}" data-version="${diagram.version}">`,
    `<title id="${prefix}title">${escapeXml(title)}</title>`,
    `<desc id="${prefix}desc">${escapeXml(description)}</desc>`,
    `<style>${STYLE}</style>`,
    '<defs>',
    `<marker id="${prefix}arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="pl-arrowhead" d="M0,0 L10,5 L0,10 z"/></marker>`,
    `<marker id="${prefix}arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path class="pl-arrowhead taken" d="M0,0 L10,5 L0,10 z"/></marker>`,
    '</defs>',
    '<g class="pl-edges">',
  );
  for (const edge of diagram.edges) {
    const took = taken.get(edge.id);
    const attributes = [
      `class="pl-edge${took ? ' taken' : ''}"`,
      `d="${routeOf(edge)}"`,
      `data-from="${escapeXml(edge.from)}"`,
      `data-to="${escapeXml(edge.to)}"`,
      `data-event="${escapeXml(edge.events.join(' '))}"`,
      ...(took ? [`data-count="${took.count}"`, `data-order="${took.order.join(' ')}"`] : []),
      `marker-end="url(#${prefix}${took ? 'arrow-taken' : 'arrow'})"`,
    ];
    const label = edge.label;
    const top = label.y - label.height / 2;
    const lines = label.lines
      .map((line, i) => `<tspan x="${n(label.x)}" y="${n(top + 11 + i * LINE * 0.85)}">${escapeXml(line)}</tspan>`)
      .join('');
    const times = took && took.count > 1 ? `<tspan x="${n(label.x)}" dy="${n(LINE * 0.85)}">×${took.count}</tspan>` : '';
    out.push(
      `<g class="pl-transition" data-edge="${escapeXml(edge.id)}">`,
      `<title>${escapeXml(`${edge.from} → ${edge.to}: ${edge.events.join(', ')}${took ? ` (taken ${took.count}×)` : ''}`)}</title>`,
      `<path ${attributes.join(' ')}/>`,
      ...(edge.selfLoop ? [] : [`<text class="pl-edge-label${took ? ' taken' : ''}" text-anchor="middle">${lines}${times}</text>`]),
      '</g>',
    );
  }
  out.push('</g>', '<g class="pl-nodes">');
  for (const node of diagram.nodes) {
    const classes = ['pl-node'];
    if (node.id === options.current) classes.push('current');
    if (visited.has(node.id)) classes.push('visited');
    if (node.initial) classes.push('initial');
    if (node.terminal) classes.push('terminal');
    const left = node.x - node.width / 2;
    const top = node.y - node.height / 2;
    const count = counts[node.id];
    const tip = `${node.id}${node.children.length ? ` (${node.children.join(', ')})` : ''}${count !== undefined ? `: ${count} job${count === 1 ? '' : 's'}` : ''}`;
    out.push(
      `<g class="${classes.join(' ')}" data-state="${escapeXml(node.id)}"${count !== undefined ? ` data-count="${count}"` : ''}>`,
      `<title>${escapeXml(tip)}</title>`,
      `<rect x="${n(left)}" y="${n(top)}" width="${n(node.width)}" height="${n(node.height)}" rx="6" ry="6"/>`,
      `<text class="pl-state" x="${n(node.x)}" y="${n(top + 21)}" text-anchor="middle">${escapeXml(node.id)}</text>`,
      ...node.children.map(
        (child, i) => `<text class="pl-child" x="${n(node.x)}" y="${n(top + 21 + (i + 1) * LINE)}" text-anchor="middle">${escapeXml(child)}</text>`,
      ),
      ...node.loop.map(
        (line, i) => `<text class="pl-loop${taken.has(`${node.id}→${node.id}`) ? ' taken' : ''}" x="${n(node.x)}" y="${n(top + 21 + node.children.length * LINE + (i + 1) * LINE * 0.85)}" text-anchor="middle">${escapeXml(line)}${i === node.loop.length - 1 && (taken.get(`${node.id}→${node.id}`)?.count ?? 0) > 1 ? ` ×${taken.get(`${node.id}→${node.id}`)!.count}` : ''}</text>`,
      ),
      ...(count !== undefined
        ? [`<text class="pl-count" x="${n(left + node.width - 4)}" y="${n(top - 4)}" text-anchor="end">${count.toLocaleString('en-US')}</text>`]
        : []),
      '</g>',
    );
  }
  out.push('</g>', '</svg>');
  return out.join('\n');
}
