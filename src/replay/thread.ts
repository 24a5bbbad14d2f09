/** The body of a replay worker thread: open the file, replay the chunks it is given, report each. */
import { parentPort } from 'node:worker_threads';
import { openDatabase } from '../db/open.ts';
import { SqliteStore } from '../db/sqlite-store.ts';
import { Engine } from '../engine/engine.ts';
import type { FromWorker, ToWorker } from './parallel.ts';
import { replayRange } from './replay.ts';

const port = parentPort!;
let store: SqliteStore | null = null;
let engine: Engine | null = null;
const reply = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  try {
    if ('file' in message) {
      store = new SqliteStore(openDatabase(message.file));
      engine = new Engine(store);
      reply({ ready: true });
    } else if ('from' in message) {
      reply({ summary: replayRange(engine!, message.from, message.to) });
    } else {
      store?.close();
      port.close();
    }
  } catch (error) {
    reply({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    store?.close();
    port.close();
  }
});
