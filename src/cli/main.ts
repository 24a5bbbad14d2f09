/**
 * The `phaseline` command, parsed by commander. `main` returns the exit code and throws nothing:
 * every failure becomes one line on stderr (see errors.ts for the codes).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isPostgresUrl } from '../db/url.ts';
import type { Lifecycle } from '../../machines/common.ts';
import { builtInLifecycles } from '../../machines/index.ts';
import { LifecycleRegistry } from '../engine/lifecycles.ts';
import { createPhaseline, type Phaseline } from '../phaseline.ts';
import { cancelCommand, historyCommand, jobsCommand, replyCommand, sendCommand, showCommand, type JobsOptions } from './commands.ts';
import { exportCommand, replayCommand, upgradeCommand, type ReplayOptions, type UpgradeCommandOptions } from './histories.ts';
import { runDemo } from './demo.ts';
import { schedulesCommand } from './schedule-commands.ts';
import { CliError, errorLine, EXIT, exitCodeOf, messageOf } from './errors.ts';
import { checkCommand, findLifecycle, graphCommand, type CheckCommandOptions, type GraphOptions } from './lifecycle-commands.ts';
import { loadLifecycles } from './lifecycles.ts';
import { jobsTable } from './print.ts';
import { readToken } from './token.ts';
import { packageVersion } from './version.ts';

interface GlobalOptions {
  db: string;
  lifecycles?: string;
}

const EXIT_CODES = `
Exit codes:
  0  done
  1  refused (e.g. an event the job's state does not accept), replay found a divergence, or upgrade left jobs
  2  usage error or missing input (database, job, lifecycle, file)
  70 an unexpected failure (a damaged database, an I/O error)`;

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return usageExit(error);
    process.stderr.write(errorLine(messageOf(error)));
    return exitCodeOf(error);
  }
}

/** Help and --version end with 0; commander has already printed them. Anything else is a usage error. */
function usageExit(error: CommanderError): number {
  if (error.exitCode === 0) return EXIT.ok;
  // `phaseline` alone: commander printed the help to stderr.
  if (error.code !== 'commander.help') process.stderr.write(errorLine(`${error.message.replace(/^error: /, '')} (see --help)`));
  return EXIT.usage;
}

function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('phaseline')
    .description('Durable state-machine jobs: list, inspect, change, export and replay them, upgrade them to a new lifecycle version, run the demo, serve HTTP.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: phaseline help COMMAND)')
    .option('--db <file|url>', 'SQLite database file, or a postgres:// URL', './phaseline.db')
    .option('--lifecycles <file>', 'JS module exporting lifecycles of your own ({ name, version, machine }); it is imported, so give a module that only defines them, not your app')
    .addHelpText('after', EXIT_CODES)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: () => {}, // main prints usage errors itself, in one line
    });

  /** An action that opens the database, runs, closes it, and sets the exit code. */
  const act = <A extends unknown[]>(create: boolean, run: (phaseline: Phaseline, ...args: A) => Promise<number>) =>
    async (...args: [...A, Command]) => {
      const command = args.at(-1) as Command;
      const phaseline = await open(command.optsWithGlobals<GlobalOptions>(), create);
      try {
        setCode(await run(phaseline, ...(args.slice(0, -1) as A)));
      } finally {
        await phaseline.close();
      }
    };
  const json = () => new Option('--json', 'print JSON instead of text');

  program
    .command('jobs')
    .description('list jobs, oldest first (--phase takes a state as the job\'s lifecycle spells it, e.g. EXECUTING or JOB_STATUS_RUNNING)')
    .option('--phase <state>', 'only jobs in this state, e.g. EXECUTING (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--after <instant>', 'only jobs created after this ISO 8601 instant', parseInstant)
    .option('--last <n>', 'only the N most recently created', parseCount)
    .option('--owner <owner>', "only this owner's jobs")
    .option('--type <type>', 'only jobs of this job type')
    .addOption(json())
    .action(act(false, (p, options: JobsOptions) => jobsCommand(p, options)));

  program
    .command('show')
    .description('one job: state, progress, parameters, result, errors')
    .argument('<id>', 'job id', parseId)
    .addOption(json())
    .action(act(false, (p, id: number, options: JsonOption) => showCommand(p, id, options.json === true)));

  program
    .command('history')
    .description("one job's events, oldest first")
    .argument('<id>', 'job id', parseId)
    .addOption(json())
    .action(act(false, (p, id: number, options: JsonOption) => historyCommand(p, id, options.json === true)));

  program
    .command('replay')
    .summary('fold histories (of the database, or of a file export wrote) through their machines or candidate ones, and compare; exit 1 on a divergence')
    .description(
      'fold histories (the database\'s, or those of a file export wrote) through their machines and compare with the stored jobs; ' +
        'lifecycles loaded with --lifecycles replace the built-in ones of their name and version (try a changed machine before deploying it); ' +
        'exit 1 on a divergence',
    )
    .argument('[id]', 'only this job', parseId)
    .option('--from <file>', 'read the histories from this file (JSON lines, as export writes them), without any database')
    .addOption(json())
    .action(async (id: number | undefined, options: ReplayOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions>();
      if (options.from !== undefined && command.parent?.getOptionValueSource('db') === 'cli') {
        throw new CliError('replay --from reads histories from a file: give --db or --from, not both');
      }
      const lifecycles = await loadedLifecycles(globals);
      if (options.from !== undefined) {
        // Checked as opening a database would check them, so that both sources take the same modules.
        new LifecycleRegistry([...Object.values(builtInLifecycles), ...lifecycles]);
        setCode(await replayCommand(options.from, lifecycles, id, options));
        return;
      }
      const phaseline = await open(globals, false, lifecycles);
      try {
        setCode(await replayCommand(phaseline, lifecycles, id, options));
      } finally {
        await phaseline.close();
      }
    });

  program
    .command('export')
    .description('write every job with its whole history as JSON lines, one job a line, for replay --from')
    .option('--since <instant>', 'only jobs changed at or after this ISO 8601 instant', parseInstant)
    .option('--out <file>', 'write to this file (replaced once complete) instead of stdout')
    .action(act(false, (p, options: { since?: number; out?: string }) => exportCommand(p, options)));

  program
    .command('upgrade')
    .summary('move in-flight jobs of a lifecycle to another version where their histories fold identically; exit 1 when any stays')
    .description(
      'move the unfinished jobs of a lifecycle to another version (loaded with --lifecycles), each whose history folds identically under it, ' +
        'recording an UPGRADE event; the others stay, each with its first difference; exit 1 when any stays',
    )
    .requiredOption('--lifecycle <name>', 'the lifecycle whose jobs move')
    .requiredOption('--to <version>', 'the version they move to', parseCount)
    .option('--dry-run', 'check every job, change nothing')
    .option('--actor <actor>', 'who is recorded on each UPGRADE event', 'cli')
    .addOption(json())
    .action(act(false, (p, options: UpgradeCommandOptions) => upgradeCommand(p, options)));

  program
    .command('graph')
    .description("print a lifecycle's reachable states and transitions as a Mermaid state diagram (or Graphviz DOT)")
    .argument('<lifecycle>', 'a built-in lifecycle (uws, ecotaxa, rime, synapse, qiskit) or one of --lifecycles')
    .addOption(new Option('--format <format>', 'diagram language').choices(['mermaid', 'dot']).default('mermaid'))
    .option('--lifecycle-version <n>', 'that version of it (default: the latest)', parseCount)
    .action(async (name: string, options: GraphOptions, command: Command) => {
      const lifecycle = findLifecycle(name, await loadedLifecycles(command.optsWithGlobals<GlobalOptions>()), options.lifecycleVersion);
      setCode(graphCommand(lifecycle, options));
    });

  program
    .command('check')
    .description("explore a lifecycle's every reachable state, and run random event sequences through a real engine checking every rule after every step; exit 1 with a shrunk counterexample")
    .argument('<lifecycle>', 'a built-in lifecycle or one of --lifecycles')
    .option('--runs <n>', 'random sequences (default 200)', parseCount)
    .option('--seed <n>', 'the random seed (a failure prints the one it used)', parseSeed)
    .option('--lifecycle-version <n>', 'that version of it (default: the latest)', parseCount)
    .addOption(json())
    .action(async (name: string, options: CheckCommandOptions, command: Command) => {
      const lifecycle = findLifecycle(name, await loadedLifecycles(command.optsWithGlobals<GlobalOptions>()), options.lifecycleVersion);
      setCode(checkCommand(lifecycle, options));
    });

  program
    .command('cancel')
    .description("cancel a job: one nobody runs ends at once, a running one when its handler stops")
    .argument('<id>', 'job id', parseId)
    .addOption(json())
    .action(act(false, (p, id: number, options: JsonOption) => cancelCommand(p, id, options.json === true)));

  program
    .command('reply')
    .description("answer a waiting job's question")
    .argument('<id>', 'job id', parseId)
    .argument('<answer>', 'the answer, as JSON, e.g. \'{"taxa":"Copepoda"}\'')
    .addOption(json())
    .action(act(false, (p, id: number, answer: string, options: JsonOption) => replyCommand(p, id, answer, options.json === true)));

  program
    .command('send')
    .description("send an event the job's machine accepts, e.g. RUN, ABORT, HOLD, KILL, RESTART")
    .argument('<id>', 'job id', parseId)
    .argument('<event>', 'event type')
    .argument('[payload]', 'a JSON object merged into the event')
    .addOption(json())
    .action(
      act(false, (p, id: number, event: string, payload: string | undefined, options: JsonOption) =>
        sendCommand(p, id, event, payload, options.json === true),
      ),
    );

  program
    .command('schedules')
    .description('list the cron schedules, or pause, resume or delete one (schedules are made by the app: phaseline.schedule)')
    .argument('[action]', 'list (default), pause, resume or delete')
    .argument('[name]', 'the schedule (for pause, resume, delete)')
    .addOption(json())
    .action(act(false, (p, action: string | undefined, name: string | undefined, options: JsonOption) => schedulesCommand(p, action, name, options.json === true)));

  program
    .command('demo')
    .description('run demo jobs of all five lifecycles with live progress, then list them (creates the database)')
    .action(
      act(true, async (p) => {
        await runDemo(p);
        process.stdout.write(jobsTable(await p.list()));
        return EXIT.ok;
      }),
    );

  program
    .command('serve')
    .description('serve UWS 1.1 (/uws), an EcoTaxa job API (/api/jobs) and JSON views (/jobs/ID?view=), with workers (creates the database)')
    .option('--host <address>', 'address to listen on; anything but loopback is reachable from other hosts', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', parsePort, 8080)
    .option('--token-file <file>', 'require "Authorization: Bearer <token>", the token being this file\'s first line (or set PHASELINE_TOKEN)')
    .action(async (options: { host: string; port: number; tokenFile?: string }, command: Command) => {
      const token = readToken(options.tokenFile); // before the database is opened or created
      const { serve } = await import('./serve.ts');
      await serve(() => open(command.optsWithGlobals<GlobalOptions>(), true), { host: options.host, port: options.port, token });
      setCode(EXIT.ok);
    });

  return program;
}

interface JsonOption {
  json?: boolean;
}

/**
 * Open the database. `create: false` keeps a mistyped SQLite path from leaving an empty file; a
 * server's database exists already (its tables are migrated on open, as the SQLite file's are).
 */
async function open(options: GlobalOptions, create: boolean, loaded?: Lifecycle[]): Promise<Phaseline> {
  const lifecycles = loaded ?? (await loadedLifecycles(options));
  const phaseline = createPhaseline({ db: options.db, lifecycles, create });
  try {
    await phaseline.ready(); // an unreachable server is one line here, before any command runs
  } catch (error) {
    await phaseline.close();
    throw error;
  }
  return phaseline;
}

/** The module of `--lifecycles`, or none. */
async function loadedLifecycles(options: GlobalOptions): Promise<Lifecycle[]> {
  return options.lifecycles === undefined ? [] : loadLifecycles(options.lifecycles);
}

function parseId(value: string): number {
  const id = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(id) || id <= 0) throw new InvalidArgumentError('a job id is a positive integer.');
  return id;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

function parseSeed(value: string): number {
  const n = Number(value);
  if (!/^-?[0-9]+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected an integer.');
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535.');
  return n;
}

function parseInstant(value: string): number {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO 8601 instant, e.g. 2025-01-31T12:00:00Z.');
  return t;
}
