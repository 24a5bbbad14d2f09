/**
 * A lifecycle's transitions pinned as a table: for each reachable state, each event key and the
 * state it leads to. `printTransitions` writes the current table as source to paste into a test;
 * `expectTransitions` compares the machine with a pinned table and names every cell that changed.
 * A machine changed in place (without a new version) makes stored jobs replay differently; a
 * pinned table turns that into a failing test.
 */
import type { Lifecycle } from '../../machines/common.ts';
import { LifecycleTestError } from './errors.ts';
import { labelsOf } from './explore.ts';
import { searchGraph, type Graph, type GraphNode, type SearchOptions } from './explore-graph.ts';
import { eventOfKey } from './vocabulary.ts';

/**
 * State → event key → the state path it leads to. A state's key is its path (`E.killed`), or
 * `path+cancel` where a pending cancellation changes how it answers (RIME `JOB_STATUS_RUNNING+cancel`;
 * a table without that row uses the plain path's for it). An event key missing from a state's row
 * is refused there; `'refused'` (or `'-'`) says so explicitly.
 */
export type TransitionTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Options of `expectTransitions`, `transitionTableOf` and `printTransitions`. */
export interface TableOptions extends SearchOptions {
  /** The lifecycle version the table was pinned for: another version is a mismatch, to be pinned anew. */
  version?: number;
}

/** One cell that differs from the pinned table. */
export interface CellDifference {
  state: string;
  /** The event key, or `*` when a whole state is missing or extra. */
  event: string;
  expected: string;
  actual: string;
}

/** The machine's transitions differ from a pinned table. */
export class TransitionTableError extends LifecycleTestError {
  override name = 'TransitionTableError';
  constructor(lifecycle: string, version: number, readonly differences: readonly CellDifference[]) {
    super(
      lifecycle,
      version,
      [
        `${lifecycle}@${version}: ${differences.length} cell${differences.length === 1 ? '' : 's'} differ${differences.length === 1 ? 's' : ''} from the pinned transition table:`,
        ...differences.map((d) => `  ${d.state} × ${d.event}: expected ${d.expected}, actual ${d.actual}`),
        'A changed machine needs a new lifecycle version (stored jobs replay through the version they were created with); pin the table anew with printTransitions(lifecycle).',
      ].join('\n'),
    );
  }
}

const REFUSED = 'refused';

/** The situations of each display label, and the rows the machine answers. */
interface Actual {
  graph: Graph;
  /** Display label → the first situation it stands for (all of them answer alike). */
  rows: Map<string, GraphNode>;
}

function actualOf(lifecycle: Lifecycle, options: TableOptions): Actual {
  const graph = searchGraph(lifecycle, options);
  const labels = labelsOf(graph);
  const rows = new Map<string, GraphNode>();
  for (const node of graph.nodes.values()) if (!rows.has(labels.get(node.key)!)) rows.set(labels.get(node.key)!, node);
  return { graph, rows };
}

/** The state an event key leads to from a situation, or `refused`. */
function cellOf(actual: Actual, node: GraphNode, key: string, options: TableOptions): string {
  const edge = actual.graph.edges.find((e) => e.from === node.key && e.key === key);
  if (edge) return actual.graph.nodes.get(edge.to)!.path;
  if (actual.graph.variants.some((v) => v.key === key)) return REFUSED;
  return actual.graph.evaluate(node, eventOfKey(key, options.payloads)) ?? REFUSED;
}

/** The lifecycle's current table: every reachable state, with the events it accepts and where they lead. */
export function transitionTableOf(lifecycle: Lifecycle, options: TableOptions = {}): TransitionTable {
  const actual = actualOf(lifecycle, options);
  const table: Record<string, Record<string, string>> = {};
  for (const [label, node] of actual.rows) {
    const row: Record<string, string> = {};
    for (const variant of actual.graph.variants) {
      const cell = cellOf(actual, node, variant.key, options);
      if (cell !== REFUSED) row[variant.key] = cell;
    }
    table[label] = row;
  }
  return table;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const keyOf = (text: string) => (IDENTIFIER.test(text) ? text : quote(text));

/** The current table as source, to paste into a test and pass to `expectTransitions`. */
export function printTransitions(lifecycle: Lifecycle, options: TableOptions = {}): string {
  const table = transitionTableOf(lifecycle, options);
  const lines = [`// ${lifecycle.name}@${lifecycle.version}: state → event → next state; an event missing from a state is refused there.`, '{'];
  for (const [state, row] of Object.entries(table)) {
    const cells = Object.entries(row);
    if (cells.length === 0) {
      lines.push(`  ${keyOf(state)}: {},`);
      continue;
    }
    const width = Math.max(...cells.map(([key]) => keyOf(key).length));
    lines.push(`  ${keyOf(state)}: {`);
    for (const [key, target] of cells) lines.push(`    ${`${keyOf(key)}:`.padEnd(width + 1)} ${quote(target)},`);
    lines.push('  },');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * Throws a {@link TransitionTableError} naming every cell where the machine differs from the
 * pinned table (expected vs actual): each reachable state, for every event key the machine knows
 * and every key the table names. A state reachable but missing from the table, or in the table
 * but not reachable, is a difference too.
 */
export function expectTransitions(lifecycle: Lifecycle, table: TransitionTable, options: TableOptions = {}): void {
  if (options.version !== undefined && options.version !== lifecycle.version) {
    throw new TransitionTableError(lifecycle.name, lifecycle.version, [
      { state: '*', event: '*', expected: `version ${options.version}`, actual: `version ${lifecycle.version}` },
    ]);
  }
  const actual = actualOf(lifecycle, options);
  const differences: CellDifference[] = [];
  const used = new Set<string>();
  const normal = (cell: string | undefined) => (cell === undefined || cell === '-' || cell === REFUSED ? REFUSED : cell);
  for (const [label, node] of actual.rows) {
    const name = label in table ? label : node.path in table ? node.path : null;
    if (name === null) {
      differences.push({ state: label, event: '*', expected: 'not in the table', actual: 'reachable' });
      continue;
    }
    used.add(name);
    const row = table[name]!;
    const keys = [...new Set([...actual.graph.variants.map((v) => v.key), ...Object.keys(row)])];
    for (const key of keys) {
      const expected = normal(row[key]);
      const got = cellOf(actual, node, key, options);
      if (expected !== got) differences.push({ state: label, event: key, expected, actual: got });
    }
  }
  for (const name of Object.keys(table)) {
    if (!used.has(name)) differences.push({ state: name, event: '*', expected: 'reachable', actual: 'not reachable' });
  }
  if (differences.length > 0) throw new TransitionTableError(lifecycle.name, lifecycle.version, differences);
}
