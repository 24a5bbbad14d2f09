/** The body of a replay worker thread: open the file, replay the chunks it is given, report each. */
import { parentPort } from 'node:worker_threads';
import { openDatabase, type OpenDatabase } from '../db/open.ts';
import { Engine } from '../engine/engine.ts';
import type { FromWorker, ToWorker } from './parallel.ts';
import { replayRange } from './replay.ts';

const port = parentPort!;
let database: OpenDatabase | null = null;
let engine: Engine | null = null;
const reply = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  try {
    if ('file' in message) {
      database = openDatabase(message.file);
      engine = new Engine(database);
      reply({ ready: true });
    } else if ('from' in message) {
      reply({ summary: replayRange(engine!, message.from, message.to) });
    } else {
      database?.sqlite.close();
      port.close();
    }
  } catch (error) {
    reply({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    database?.sqlite.close();
    port.close();
  }
});
