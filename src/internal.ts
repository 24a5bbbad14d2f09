/**
 * The engine behind a Phaseline instance, for Phaseline's own CLI, bench and tests (the raw
 * SQLite handle is `engineOf(p).store.database.sqlite`). Not part of the package's exports: apps
 * go through the facade, which is the one door for change.
 */
import type { SqliteStore } from './db/sqlite-store.ts';
import type { Engine } from './engine/engine.ts';
import type { Phaseline } from './phaseline.ts';

const engines = new WeakMap<Phaseline, Engine<SqliteStore>>();

export function attachEngine(phaseline: Phaseline, engine: Engine<SqliteStore>): void {
  engines.set(phaseline, engine);
}

export function engineOf(phaseline: Phaseline): Engine<SqliteStore> {
  const engine = engines.get(phaseline);
  if (!engine) throw new Error('not a Phaseline instance');
  return engine;
}
