/**
 * TEMPORARY stand-in for src/dashboard/diagram.ts (built on the dash-data branch): the same three
 * functions, a plain grid layout. Deleted once that module is merged.
 */
import type { AnyStateMachine } from 'xstate';
import type { Lifecycle } from '../../machines/common.ts';

export interface DiagramEdge {
  from: string;
  to: string;
  event: string;
}
export interface Diagram {
  lifecycle: string;
  states: string[];
  edges: DiagramEdge[];
}
export interface PathEdge extends DiagramEdge {
  count: number;
  order: number[];
}
export interface RenderOptions {
  path?: readonly PathEdge[];
  current?: string | null;
  counts?: Record<string, number>;
  idPrefix?: string;
  upTo?: number;
}

type Node = { key: string; path: string[]; states: Record<string, Node>; transitions: Map<string, Array<{ target?: Node[] }>> };

export function diagramOf(lifecycle: Lifecycle): Diagram {
  const root = (lifecycle.machine as AnyStateMachine).root as unknown as Node;
  const states = Object.keys(root.states);
  const edges = new Map<string, DiagramEdge>();
  const walk = (node: Node, top: string) => {
    for (const [event, list] of node.transitions) {
      for (const t of list) {
        for (const target of t.target ?? []) {
          const to = target.path[0]!;
          if (to === top) continue;
          edges.set(`${top}|${to}|${event}`, { from: top, to, event });
        }
      }
    }
    for (const child of Object.values(node.states)) walk(child, top);
  };
  for (const [name, node] of Object.entries(root.states)) walk(node, name);
  return { lifecycle: lifecycle.name, states, edges: [...edges.values()] };
}

export function pathOf(history: ReadonlyArray<{ stateBefore: string | null; stateAfter: string; type: string }>): PathEdge[] {
  const edges = new Map<string, PathEdge>();
  history.forEach((event, i) => {
    if (event.stateBefore === null || event.stateBefore === event.stateAfter) return;
    const key = `${event.stateBefore}|${event.stateAfter}|${event.type}`;
    let edge = edges.get(key);
    if (!edge) edges.set(key, (edge = { from: event.stateBefore, to: event.stateAfter, event: event.type, count: 0, order: [] }));
    edge.count++;
    edge.order.push(i + 1);
  });
  return [...edges.values()];
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderDiagramSvg(diagram: Diagram, options: RenderOptions = {}): string {
  const cols = Math.min(4, diagram.states.length);
  const w = 150;
  const h = 70;
  const pos = new Map(diagram.states.map((s, i) => [s, { x: 20 + (i % cols) * w, y: 20 + Math.floor(i / cols) * h * 1.6 }]));
  const width = 40 + cols * w;
  const height = 40 + Math.ceil(diagram.states.length / cols) * h * 1.6;
  const taken = new Map((options.path ?? []).map((e) => [`${e.from}|${e.to}|${e.event}`, e]));
  const parts: string[] = [];
  for (const edge of diagram.edges) {
    const a = pos.get(edge.from);
    const b = pos.get(edge.to);
    if (!a || !b) continue;
    const t = taken.get(`${edge.from}|${edge.to}|${edge.event}`);
    const attrs = t ? ` class="taken" data-count="${t.count}" data-order="${t.order.join(' ')}"` : '';
    parts.push(
      `<path data-from="${esc(edge.from)}" data-to="${esc(edge.to)}" data-event="${esc(edge.event)}"${attrs} d="M${a.x + 60} ${a.y + 20} L${b.x + 60} ${b.y + 20}"><title>${esc(edge.event)}</title></path>`,
    );
  }
  for (const state of diagram.states) {
    const p = pos.get(state)!;
    const current = state === options.current ? ' class="current" aria-current="true"' : '';
    const count = options.counts?.[state];
    parts.push(
      `<g data-state="${esc(state)}"${current}><rect x="${p.x}" y="${p.y}" width="120" height="40" rx="6"/><text x="${p.x + 60}" y="${p.y + 25}" text-anchor="middle">${esc(state.length > 16 ? `${state.slice(0, 15)}…` : state)}${count !== undefined ? ` (${count})` : ''}</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="State diagram of ${esc(diagram.lifecycle)}" viewBox="0 0 ${width} ${height}" class="diagram">${parts.join('')}</svg>`;
}
