import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The conformance suite: these files run twice, on SQLite (in the `sqlite` project, with every
 * other file) and on PostgreSQL (the `postgres` project: one server for the run, a database per
 * test; test/support/stores.ts).
 */
export const CONFORMANCE = [
  'test/facade.conformance.test.ts',
  'test/runner.behaviour.test.ts',
  'test/runner.errors.test.ts',
  'test/runner.sweeper.test.ts',
  'test/runner.limits.test.ts',
  'test/limits.claim.test.ts',
  'test/lifecycles.behaviour.test.ts',
  'test/http.uws.test.ts',
  'test/http.ecotaxa.test.ts',
  'test/http.owners.test.ts',
  'test/http.fuzz.test.ts',
  'test/http.hardening.test.ts',
  'test/dashboard.http.test.ts',
  'test/runner.crash.test.ts',
  'test/runner.multiprocess.test.ts',
  'test/store.listing.test.ts',
  'test/workflow.sleep.test.ts',
  'test/workflow.signals.test.ts',
  'test/workflow.crash.test.ts',
  'test/workflow.schedules.test.ts',
  'test/workflow.children.test.ts',
  'test/workflow.dependencies.test.ts',
];

/**
 * Files about PostgreSQL alone (several hosts on one server, connections cut): run by the postgres
 * project only, on its server, with a database per test as the conformance files.
 */
export const POSTGRES_ONLY = [
  'test/runner.hosts.postgres.test.ts',
];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    // better-sqlite3 is a native addon: separate processes keep each file's databases apart.
    pool: 'forks',
    // Two cores: two test files at a time.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...POSTGRES_ONLY] } },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...CONFORMANCE, ...POSTGRES_ONLY],
          env: { PHASELINE_TEST_STORE: 'postgres' },
          globalSetup: ['test/support/postgres-global.ts'],
        },
      },
    ],
  },
});
