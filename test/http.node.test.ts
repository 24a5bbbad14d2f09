/**
 * The node:http adapter (src/http/node.ts) on its own, with an app that streams a body without
 * end: a client that goes away mid-body must release the handler and cancel the body's reader,
 * and the server must go on answering.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../src/http/node.ts';
import { waitFor } from './helpers/wait.ts';

let server: Server;
let port: number;
/** Per streamed response: whether its reader was cancelled, and whether the handler returned. */
const streams: Array<{ cancelled: boolean; settled: boolean }> = [];

beforeAll(async () => {
  const chunk = new Uint8Array(64 * 1024).fill(120);
  const handler = toNodeHandler({
    fetch(request) {
      if (new URL(request.url).pathname !== '/endless') return new Response('ok\n');
      const record = streams[streams.length - 1]!;
      const body = new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(chunk),
        cancel: () => {
          record.cancelled = true;
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    },
  });
  server = createServer((req, res) => {
    if (req.url === '/endless') streams.push({ cancelled: false, settled: false });
    const record = streams[streams.length - 1];
    void handler(req, res).finally(() => {
      if (req.url === '/endless') record!.settled = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('a client that goes away mid-body', () => {
  it('releases the handler and cancels the reader, with the server blocked on a full socket', async () => {
    const socket = connect(port, '127.0.0.1');
    let received = 0;
    await new Promise<void>((resolve) => {
      socket.once('connect', () => {
        socket.write('GET /endless HTTP/1.1\r\nHost: x\r\n\r\n');
        resolve();
      });
    });
    // Read a little, then stop reading: the server's writes fill the socket and it waits to drain.
    await new Promise<void>((resolve) =>
      socket.on('data', (data: Buffer) => {
        received += data.length;
        if (received > 256 * 1024) {
          socket.pause();
          resolve();
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(streams).toHaveLength(1);
    expect(streams[0]!.settled).toBe(false); // the control: it is blocked, not done
    socket.destroy();
    await waitFor(() => streams[0]!.settled && streams[0]!.cancelled, 3000, 'handler settled and reader cancelled');
    // The server still answers.
    const response = await fetch(`http://127.0.0.1:${port}/other`);
    expect(await response.text()).toBe('ok\n');
  });
});
