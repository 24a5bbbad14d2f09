/**
 * The bench's own redis-server for BullMQ: started on a free port with an append-only file under
 * bench/.work/redis, stopped at the end. Absent binary: BullMQ is skipped with a note.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from './clock.ts';
import { freePort } from './ports.ts';
import type { Durability } from '../systems/types.ts';

export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export function redisVersion(binary: string): string {
  const out = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

export class RedisServer {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #client: Redis;

  private constructor(port: number, child: ChildProcess, client: Redis) {
    this.port = port;
    this.#child = child;
    this.#client = client;
  }

  static async start(binary: string, dir: string): Promise<RedisServer> {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => {}); // refused while redis-server starts: retried below
    for (let attempt = 0; ; attempt++) {
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (error) {
        if (attempt >= 100 || child.exitCode !== null) {
          kill();
          throw new Error(`redis-server did not start on port ${port}: ${String(error)}`);
        }
        client.disconnect();
        await sleep(50);
      }
    }
    return new RedisServer(port, child, client);
  }

  /** NORMAL: fsync the append-only file once a second; FULL: before answering each write. */
  async setDurability(durability: Durability): Promise<void> {
    await this.#client.config('SET', 'appendfsync', durability === 'FULL' ? 'always' : 'everysec');
  }

  async flush(): Promise<void> {
    await this.#client.flushall();
  }

  async stop(): Promise<void> {
    this.#client.disconnect();
    if (this.#child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    await exited;
  }
}
