/**
 * Wake-ups across processes and hosts on PostgreSQL: a transaction that leaves a job claimable
 * sends `NOTIFY phaseline_wake` with its COMMIT; each process with workers keeps one connection of
 * its own on `LISTEN phaseline_wake` and wakes them, so another host's enqueue starts at once
 * instead of at the next poll. Polling stays the fallback: a notification lost while the
 * connection was down only delays work until then, and every reconnection wakes the workers once.
 */
import pg from 'pg';
import { errorField, safeLog, silentLogger, type Logger } from '../logger.ts';

export const WAKE_CHANNEL = 'phaseline_wake';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

export class WakeListener {
  readonly #config: pg.ClientConfig;
  readonly #listeners = new Set<() => void>();
  #client: pg.Client | null = null;
  #connecting = false;
  #retryMs = FIRST_RETRY_MS;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  readonly #logger: Logger;

  constructor(config: pg.ClientConfig, logger: Logger = silentLogger) {
    this.#logger = logger;
    // Keepalive probes notice a connection whose peer vanished (a cut network) without a FIN.
    this.#config = { ...config, keepAlive: true };
  }

  /** Call `listener` on each wake-up until the returned function is called. */
  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (!this.#client && !this.#connecting) void this.#connect();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#disconnect();
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#disconnect();
  }

  #wake(): void {
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        safeLog(this.#logger, 'error', { err: errorField(error) }, 'phaseline: a wake-up listener threw');
      }
    }
  }

  async #connect(): Promise<void> {
    if (this.#closed || this.#listeners.size === 0) return;
    this.#connecting = true;
    const client = new pg.Client(this.#config);
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = null;
      client.end().catch(() => {});
      this.#scheduleRetry();
    };
    // A dropped connection emits 'error' and then 'end': unheard, 'error' would end the process.
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', () => this.#wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
    } catch {
      this.#connecting = false;
      onLost();
      return;
    }
    this.#connecting = false;
    if (lost) return;
    if (this.#closed || this.#listeners.size === 0) {
      lost = true;
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#retryMs = FIRST_RETRY_MS;
    // Whatever became claimable while nobody here was listening.
    this.#wake();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, delay);
    this.#retry.unref();
  }

  async #disconnect(): Promise<void> {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
