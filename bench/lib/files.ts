import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/.work: every scratch database, the redis data and the last run's table (gitignored). */
export const WORK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '.work');

export function workFile(name: string): string {
  mkdirSync(WORK_DIR, { recursive: true });
  return join(WORK_DIR, name);
}

/** Remove an SQLite file with its WAL and shared-memory files. */
export function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

export function ensureDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
}
