/**
 * `phaseline graph` and `phaseline check`: a lifecycle's diagram, and its rules checked, through
 * phaseline/testing, for the built-in lifecycles and those of `--lifecycles FILE`. No database.
 */
import type { Lifecycle } from '../../machines/common.ts';
import { builtInLifecycles } from '../../machines/index.ts';
import { LifecycleRegistry } from '../engine/lifecycles.ts';
import { isPhaselineError } from '../errors.ts';
import { checkLifecycle, exploreLifecycle, LifecycleCheckError } from '../testing/index.ts';
import { CliError, EXIT } from './errors.ts';

export interface GraphOptions {
  format: 'mermaid' | 'dot';
  lifecycleVersion?: number;
}

export interface CheckCommandOptions {
  runs?: number;
  seed?: number;
  lifecycleVersion?: number;
  json?: boolean;
}

/** The lifecycle of this name (its latest version unless one is given), among the built-in and the loaded ones. */
export function findLifecycle(name: string, loaded: Lifecycle[], version?: number): Lifecycle {
  const registry = new LifecycleRegistry([...Object.values(builtInLifecycles), ...loaded]);
  try {
    return version === undefined ? registry.latest(name) : registry.get(name, version);
  } catch (error) {
    if (!isPhaselineError(error, 'UNKNOWN_LIFECYCLE')) throw error;
    const known = [...new Set(registry.all().map((l) => l.name))].sort().join(', ');
    throw new CliError(`no lifecycle ${name}${version === undefined ? '' : ` version ${version}`} (known: ${known}; load your own with --lifecycles FILE)`);
  }
}

/** Print the lifecycle's reachable states and transitions as a Mermaid state diagram or Graphviz DOT. */
export function graphCommand(lifecycle: Lifecycle, options: GraphOptions, out: NodeJS.WritableStream = process.stdout): number {
  const exploration = exploreLifecycle(lifecycle);
  out.write(`${options.format === 'dot' ? exploration.toDot() : exploration.toMermaid()}\n`);
  return EXIT.ok;
}

/**
 * Explore every reachable state, then run random event sequences through a real engine checking
 * every rule after every step. Exit 1, with the problems or the shrunk counterexample, when either fails.
 */
export function checkCommand(lifecycle: Lifecycle, options: CheckCommandOptions, out: NodeJS.WritableStream = process.stdout): number {
  const label = `${lifecycle.name}@${lifecycle.version}`;
  const exploration = exploreLifecycle(lifecycle);
  let summary: ReturnType<typeof checkLifecycle> | null = null;
  let failure: LifecycleCheckError | null = null;
  try {
    summary = checkLifecycle(lifecycle, {
      ...(options.runs !== undefined ? { runs: options.runs } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    });
  } catch (error) {
    if (!(error instanceof LifecycleCheckError)) throw error;
    failure = error;
  }
  const ok = exploration.problems.length === 0 && failure === null;
  if (options.json) {
    out.write(`${JSON.stringify({ lifecycle: lifecycle.name, version: lifecycle.version, ok, states: exploration.states.length, problems: exploration.problems, check: summary, failure: failure && { rule: failure.rule, detail: failure.detail, events: failure.events, seed: failure.seed, path: failure.path } }, null, 2)}\n`);
    return ok ? EXIT.ok : EXIT.refused;
  }
  out.write(`${label}: ${exploration.states.length} reachable states, ${exploration.edges.length} transitions, ${exploration.problems.length} problem${exploration.problems.length === 1 ? '' : 's'}\n`);
  for (const problem of exploration.problems) out.write(`  ${problem.kind}: ${problem.message}\n`);
  if (summary) {
    out.write(`${label}: ${summary.runs} random sequences, ${summary.events} events (${summary.accepted} accepted, ${summary.refused} refused), every rule held; seed ${summary.seed}, ${summary.ms} ms\n`);
  } else {
    out.write(`${failure!.message}\n`);
  }
  return ok ? EXIT.ok : EXIT.refused;
}
