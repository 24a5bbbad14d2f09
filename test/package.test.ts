/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh project, and real
 * programs run there: plain ESM JavaScript (the README's embedding example, unchanged), CommonJS
 * with `require`, TypeScript under `strict` and `exactOptionalPropertyTypes` (module nodenext, and
 * bundler resolution), each compiled by tsc and run by node, and the installed `phaseline` bin.
 *
 * Kept fast: the install takes packages from npm's cache where it has them (`--prefer-offline`)
 * and skips install scripts, and better-sqlite3's native module is copied from this checkout's own
 * build instead of being compiled again.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/sqlite.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let work: string;
let consumer: string;
let packed: { filename: string; size: number; unpackedSize: number; entryCount: number; files: Array<{ path: string }> };

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs and returns stdout; throws with everything printed when the program fails. */
function ok(command: string, args: string[], cwd: string): string {
  const result = run(command, args, cwd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The README's first ```js block under a heading: an example the README promises runs as it is. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`${heading}\n`);
  const match = at < 0 ? null : /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error(`README has no \`\`\`js block under "${heading}"`);
  return match[1]!;
}

function project(name: string, packageJson: object, files: Record<string, string>): string {
  const dir = join(consumer, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, ...packageJson }, null, 2));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

beforeAll(() => {
  work = tempDir('package');
  const [info] = JSON.parse(ok('npm', ['pack', '--json', '--pack-destination', work], ROOT)) as Array<typeof packed>;
  packed = info!;
  consumer = join(work, 'app');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { phaseline: `file:../${packed.filename}`, '@types/node': '^20.19.0' } }));
  ok('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], consumer);
  cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build'), join(consumer, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
}, 300_000);

describe('the npm package', () => {
  it('ships the build, migrations, sources for the declaration maps, README and LICENSE, and nothing of the repository besides', () => {
    const paths = packed.files.map((f) => f.path);
    console.log(`tarball ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.entryCount} files`);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.d.ts.map', 'dist/src/cli/bin.js', 'dist/src/http/index.js', 'dist/src/views/index.js', 'dist/machines/index.js', 'migrations/meta/_journal.json', 'migrations/postgres/meta/_journal.json']) {
      expect(paths).toContain(required);
    }
    const stray = paths.filter((p) => /^(test|bench|\.ci|node_modules)\//.test(p) || p.endsWith('.db') || p === 'tsconfig.json');
    expect(stray).toEqual([]);
    // The build leaves the bin executable, so `npx phaseline` also runs in this checkout after `npm ci`.
    expect(statSync(join(ROOT, 'dist', 'src', 'cli', 'bin.js')).mode & 0o111).toBe(0o111);
  });

  it('runs the README embedding example unchanged as a plain .mjs file under node', () => {
    const dir = project('esm', { type: 'module' }, { 'app.mjs': readmeExample('## Embedding') });
    const out = ok('node', ['app.mjs'], dir);
    expect(out).toMatch(/job 1: JOB_STATUS_SUCCEEDED \{ bytes: 25 \}/);
  });

  it("runs the README's own-lifecycle example unchanged: ask, reply, success, replay without divergence", () => {
    const dir = project('esm-lifecycle', { type: 'module' }, { 'review.mjs': readmeExample('### Your own lifecycle') });
    const out = ok('node', ['review.mjs'], dir);
    expect(out.trim().split('\n')).toEqual([
      'CREATE: - → queued', 'CLAIM: queued → in_review', 'ASK: in_review → needs_answer', 'REPLY: needs_answer → queued',
      'CLAIM: queued → in_review', 'SUCCEED: in_review → approved', 'replay: 0 divergences',
    ]);
  });

  it('leaves pg to the app (an optional peer): not installed with the package, and a postgres URL says how to add it', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { peerDependenciesMeta?: Record<string, { optional?: boolean }> };
    expect(manifest.peerDependenciesMeta?.pg?.optional).toBe(true);
    expect(existsSync(join(consumer, 'node_modules', 'pg'))).toBe(false);
    const dir = project('no-pg', { type: 'module' }, {
      'app.mjs': `import { createPhaseline } from 'phaseline';
const p = createPhaseline({ db: 'postgres://app:secret@127.0.0.1:1/jobs' });
await p.ready().then(() => console.log('opened?'), (error) => console.log(error.code, error.message));
`,
    });
    const out = ok('node', ['app.mjs'], dir);
    expect(out).toContain('STORE_UNAVAILABLE');
    expect(out).toContain('npm install pg');
    expect(out).not.toContain('secret');
  });

  it("runs the README's vitest file for phaseline/testing: its own lifecycle passes, a planted fault fails with a short sequence", () => {
    const dir = project('testing-kit', { type: 'module' }, {
      'review.test.js': readmeExample('### Testing your lifecycle'),
    });
    // The app's own test tools, beside the installed package (from npm's cache where it has them).
    ok('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', join(work, packed.filename), 'vitest@^4.0.0', 'fast-check@^4.3.0'], dir);
    cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build'), join(dir, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
    const result = run('npx', ['vitest', 'run', '--reporter=verbose'], dir, { CI: 'true' });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('3 passed');
  });

  it('loads every subpath from CommonJS with require', () => {
    const dir = project('cjs', { type: 'commonjs' }, {
      'app.cjs': `
const { createPhaseline, defineJobType, PhaselineError } = require('phaseline');
const { builtInLifecycles } = require('phaseline/machines');
const { createHttpApp } = require('phaseline/http');
const { toView } = require('phaseline/views');
(async () => {
  const phaseline = createPhaseline({ file: ':memory:' });
  phaseline.register(defineJobType({ name: 'sum', lifecycle: 'qiskit', handler: async (ctx) => ({ sum: ctx.params.a + ctx.params.b }) }));
  const id = await phaseline.enqueue('sum', { a: 2, b: 3 });
  const ended = new Promise((resolve) => phaseline.on('job:ended', ({ job }) => resolve(job)));
  phaseline.start();
  const job = await ended;
  const app = createHttpApp(phaseline);
  const response = await app.fetch(new Request('http://localhost/jobs/' + id + '?view=qiskit'));
  console.log(JSON.stringify({ lifecycles: Object.keys(builtInLifecycles), status: toView(job, 'qiskit').status, http: response.status, result: job.result, errors: typeof PhaselineError }));
  await phaseline.close();
})().catch((error) => { console.error(error); process.exitCode = 1; });
`,
    });
    const out = JSON.parse(ok('node', ['--no-warnings', 'app.cjs'], dir).trim()) as Record<string, unknown>;
    expect(out).toEqual({ lifecycles: ['ecotaxa', 'uws', 'rime', 'synapse', 'qiskit'], status: 'DONE', http: 200, result: { sum: 5 }, errors: 'function' });
  });

  // A consumer's strict program: ordinary interfaces for parameters and result, a typed read back,
  // a lifecycle of its own, the HTTP app. skipLibCheck stays off, so Phaseline's declarations are
  // checked whole in the consumer (they must not reach into driver types that fail to check).
  const program = `
import { createPhaseline, defineJobType, defineLifecycle, type HandlerContext, type Job } from 'phaseline';
import { createHttpApp } from 'phaseline/http';
import { toView, type RimeJobMetadata } from 'phaseline/views';

interface ResizeParams { url: string; width?: number }
interface ResizeResult { bytes: number }

const review = defineLifecycle({
  name: 'review', version: 1, initial: 'queued',
  states: {
    queued: { tags: ['queued'], on: { CLAIM: { target: 'reviewing', actions: 'apply' } } },
    reviewing: { tags: ['running'], on: { SUCCEED: { target: 'approved', actions: 'apply' }, FAIL: { target: 'rejected', actions: 'apply' } } },
    approved: { type: 'final', tags: ['terminal', 'succeeded'] },
    rejected: { type: 'final', tags: ['terminal', 'failed'] },
  },
});

const phaseline = createPhaseline({ file: ':memory:', lifecycles: [review] });
const resize = phaseline.register(defineJobType<ResizeParams, ResizeResult>({
  name: 'resize', lifecycle: 'rime', attempts: 2,
  handler: async (ctx: HandlerContext<ResizeParams>) => ({ bytes: ctx.params.url.length * (ctx.params.width ?? 1) }),
}));
const approve = phaseline.register(defineJobType<{ doc: string }, { ok: boolean }>({ name: 'approve', lifecycle: 'review', attempts: 1, handler: async () => ({ ok: true }) }));
const app = createHttpApp(phaseline);

const done = new Set<number>();
const bothEnded = new Promise<void>((resolve) => phaseline.on('job:ended', ({ job }) => { done.add(job.id); if (done.size === 2) resolve(); }));
const id = await phaseline.enqueue(resize, { url: 'https://example.org/a.png', width: 2 });
const other = await phaseline.enqueue(approve, { doc: 'spec' });
phaseline.start({ concurrency: 2 });
await bothEnded;
const job: Job<ResizeParams, ResizeResult> = await phaseline.get(id, { type: resize });
const bytes: number | undefined = job.result?.bytes;
const metadata: RimeJobMetadata = toView(job, 'rime', { now: Date.now() });
const approved = await phaseline.get(other, { type: approve });
const response = await app.fetch(new Request('http://localhost/jobs/' + id + '?view=synapse'));
console.log(JSON.stringify({ bytes, status: metadata.status, review: approved.state, ok: approved.result?.ok, http: response.status }));
await phaseline.close();
`;
  const expected = { bytes: 50, status: 'JOB_STATUS_SUCCEEDED', review: 'approved', ok: true, http: 200 };
  // As `tsc --init` writes it, skipLibCheck on: xstate's own declarations do not check under
  // exactOptionalPropertyTypes, so every xstate user with that flag needs it.
  const strict = { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, target: 'es2022', lib: ['es2022'], types: ['node'], skipLibCheck: true, outDir: 'out' };
  const variants = [
    { name: 'module nodenext', options: { ...strict, module: 'nodenext', moduleResolution: 'nodenext' } },
    { name: 'bundler resolution', options: { ...strict, module: 'esnext', moduleResolution: 'bundler' } },
    // skipLibCheck off: every declaration Phaseline ships is checked in the consumer, and none may
    // reach into driver types (Drizzle's do not check without skipLibCheck).
    { name: 'module nodenext, skipLibCheck off', options: { ...strict, exactOptionalPropertyTypes: false, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext' } },
  ];

  it.each(variants)('compiles a strict TypeScript consumer ($name) with tsc and runs it under node', ({ name, options }) => {
    const dir = project(`ts-${name.replace(/[^a-z]+/g, '-')}`, { type: 'module' }, {
      'tsconfig.json': JSON.stringify({ compilerOptions: options, files: ['main.ts'] }),
      'main.ts': program,
    });
    ok('node', [TSC, '-p', '.'], dir);
    expect(JSON.parse(ok('node', ['out/main.js'], dir).trim())).toEqual(expected);
  });

  it('type-checks the consumer for real: a mistyped option is a compile error there', () => {
    const dir = project('ts-refused', { type: 'module' }, {
      'tsconfig.json': JSON.stringify({ compilerOptions: { ...strict, module: 'nodenext', moduleResolution: 'nodenext', noEmit: true }, files: ['main.ts'] }),
      'main.ts': `import { createPhaseline } from 'phaseline';\nconst p = createPhaseline({ file: ':memory:' });\nawait p.enqueue('x', {}, { priority: 'high' });\n`,
    });
    const result = run('node', [TSC, '-p', '.'], dir);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/main\.ts\(3,\d+\): error TS2322/);
  });

  it('runs the installed bin: --version and the demo', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(ok('npx', ['--no-install', 'phaseline', '--version'], consumer).trim()).toBe(version);
    const db = join(work, 'demo.db');
    const demo = run('npx', ['--no-install', 'phaseline', '--db', db, 'demo'], consumer, { CI: 'true' });
    expect(demo.stderr).not.toMatch(/\n\s+at /);
    expect(demo.status).toBe(0);
    expect(demo.stdout).toMatch(/JOB_STATUS_SUCCEEDED/);
    const replay = run('npx', ['--no-install', 'phaseline', '--db', db, 'replay'], consumer);
    expect(replay.stdout).toMatch(/replayed \d+ jobs, 0 diverged/);
    expect(replay.status).toBe(0);
  });
});
