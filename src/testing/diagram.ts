/**
 * An explored lifecycle as a Mermaid state diagram (stateDiagram-v2) or a Graphviz DOT graph.
 * Transitions between the same two states share one arrow, labelled with every event behind it.
 *
 * Mermaid: every state is declared as `state "label" as sN`, so a label can hold anything; text
 * Mermaid would read as syntax (a quote, a colon or semicolon that ends a label, `#` and `%%`
 * comments, the words `direction LR`) is written as Mermaid entity codes (`#58;`), which it shows
 * as the character.
 */

/** What a diagram draws. */
export interface DiagramInput {
  name: string;
  initial: string;
  states: ReadonlyArray<{ label: string; terminal: boolean }>;
  edges: ReadonlyArray<{ from: string; to: string; key: string }>;
  /** Declared states no event reaches, drawn dashed and apart. */
  unreachable: readonly string[];
}

/** Options of `toMermaid` and `toDot`. */
export interface DiagramOptions {
  /** Draw events that leave the state as it was (PROGRESS while running, SET). Default true. */
  selfLoops?: boolean;
}

/** Arrows: one per pair of states, with the events behind it, in the order first seen. */
function arrows(input: DiagramInput, options: DiagramOptions): Array<{ from: string; to: string; keys: string[] }> {
  const byPair = new Map<string, { from: string; to: string; keys: string[] }>();
  for (const edge of input.edges) {
    if (options.selfLoops === false && edge.from === edge.to) continue;
    const pair = `${edge.from}\u0000${edge.to}`;
    let arrow = byPair.get(pair);
    if (!arrow) byPair.set(pair, (arrow = { from: edge.from, to: edge.to, keys: [] }));
    if (!arrow.keys.includes(edge.key)) arrow.keys.push(edge.key);
  }
  return [...byPair.values()];
}

/** Text Mermaid shows as it is: characters it would read as syntax become entity codes. */
function mermaidText(text: string): string {
  return text
    .replace(/[#":;%<>{}\\\r\n]/g, (c) => `#${c.charCodeAt(0)};`)
    .replace(/(direction)(\s+)(?=tb|bt|rl|lr)/gi, (_m, word: string) => `${word}#32;`);
}

/** A Mermaid stateDiagram-v2 of the explored states and transitions. */
export function toMermaid(input: DiagramInput, options: DiagramOptions = {}): string {
  const ids = new Map<string, string>();
  const lines = ['stateDiagram-v2'];
  input.states.forEach((state, i) => {
    ids.set(state.label, `s${i}`);
    lines.push(`  state "${mermaidText(state.label)}" as s${i}`);
  });
  input.unreachable.forEach((label, i) => lines.push(`  state "${mermaidText(`${label} (unreachable)`)}" as u${i}`));
  const initial = ids.get(input.initial);
  if (initial) lines.push(`  [*] --> ${initial}`);
  for (const arrow of arrows(input, options)) {
    lines.push(`  ${ids.get(arrow.from)} --> ${ids.get(arrow.to)} : ${mermaidText(arrow.keys.join(', '))}`);
  }
  const terminal = input.states.filter((s) => s.terminal).map((s) => ids.get(s.label)!);
  for (const id of terminal) lines.push(`  ${id} --> [*]`);
  if (terminal.length > 0) lines.push('  classDef terminal font-weight:bold', `  class ${terminal.join(',')} terminal`);
  if (input.unreachable.length > 0) {
    lines.push('  classDef unreachable stroke-dasharray:5 5,color:gray', `  class ${input.unreachable.map((_l, i) => `u${i}`).join(',')} unreachable`);
  }
  return `${lines.join('\n')}\n`;
}

/** A DOT string literal. */
function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

/** A Graphviz DOT digraph of the explored states and transitions (terminal states drawn double). */
export function toDot(input: DiagramInput, options: DiagramOptions = {}): string {
  const lines = [`digraph ${dotString(input.name)} {`, '  rankdir=LR;', '  node [shape=box, style=rounded];', '  __start [shape=point, label=""];'];
  for (const state of input.states) lines.push(`  ${dotString(state.label)}${state.terminal ? ' [peripheries=2]' : ''};`);
  for (const label of input.unreachable) lines.push(`  ${dotString(label)} [style="rounded,dashed", fontcolor=gray, xlabel="unreachable"];`);
  lines.push(`  __start -> ${dotString(input.initial)};`);
  for (const arrow of arrows(input, options)) {
    lines.push(`  ${dotString(arrow.from)} -> ${dotString(arrow.to)} [label=${dotString(arrow.keys.join('\n'))}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
