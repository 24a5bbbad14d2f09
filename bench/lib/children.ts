/** Forking the bench's child processes (TypeScript through tsx) and talking to them. */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemName } from '../systems/types.ts';
import type { Envelope, Notice, Reply, Request, RssJob, RssResult, Services } from './protocol.ts';

const CHILDREN = join(dirname(fileURLToPath(import.meta.url)), '..', 'children');
const EXEC_ARGV = ['--import', 'tsx'];

function forkChild(script: string, args: string[]): ChildProcess {
  return fork(join(CHILDREN, script), args, { execArgv: EXEC_ARGV, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** A running bench/children/host.ts for one system. */
export class Host {
  readonly system: SystemName;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #ready: Promise<void>;
  #next = 1;
  #onStart: ((latency: number) => void) | null = null;
  #exited = false;

  constructor(system: SystemName, pollMs: number, services: Services) {
    this.system = system;
    this.#child = forkChild('host.ts', [system, String(pollMs), JSON.stringify(services)]);
    let ready!: () => void;
    this.#ready = new Promise<void>((resolve) => (ready = resolve));
    this.#child.on('message', (message: Reply | Notice) => {
      if ('notice' in message) {
        if (message.notice === 'ready') ready();
        else if (message.notice === 'start') this.#onStart?.(message.latency);
        return;
      }
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.result);
      else waiter?.reject(new Error(`${system} host: ${message.error}`));
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = true;
      const error = new Error(`${system} host exited (${signal ?? code})`);
      for (const waiter of this.#pending.values()) waiter.reject(error);
      this.#pending.clear();
    });
  }

  get exited(): boolean {
    return this.#exited;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  request<T = unknown>(request: Request): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.system} host has exited`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      const envelope: Envelope = { ...request, id };
      this.#child.send(envelope);
    });
  }

  /** Called with each latency the host's latency worker measures. */
  onStart(listener: ((latency: number) => void) | null): void {
    this.#onStart = listener;
  }

  async exit(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    await this.request({ op: 'exit' }).catch(() => {});
    await exited;
  }

  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}

/** Run bench/children/rss.ts in a fresh process and wait for its figures. */
export function runRss(job: RssJob): Promise<RssResult> {
  return new Promise((resolve, reject) => {
    const child = forkChild('rss.ts', [JSON.stringify(job)]);
    let result: RssResult | null = null;
    child.on('message', (message: Notice) => {
      if (message.notice === 'rss') result = message.result;
    });
    child.on('exit', (code, signal) => {
      if (result) resolve(result);
      else reject(new Error(`${job.system} RSS run exited (${signal ?? code}) without a result`));
    });
  });
}
