// Hostile clients on raw sockets: one that pipelines requests and never reads the answers, one
// that sends a body (or headers) a byte at a time. Each is cut off, and the server keeps
// answering everyone else.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { exampleEngine } from '../../testing/fixtures.js';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';

let app: FastifyInstance;
let port: number;

before(async () => {
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  app = buildApp({
    decisions: new DecisionService(await exampleEngine(), metrics, logger),
    metrics,
    logger,
    // Short limits, so the test does not wait long for them.
    limits: {
      requestTimeoutMs: 400,
      headersTimeoutMs: 400,
      maxPendingPerConnection: 16,
      maxUnreadBytes: 64 * 1024,
    },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
});
after(() => app.close());

const body = JSON.stringify({
  agent: 'ledger-bot',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
});
const request =
  'POST /v1/decide HTTP/1.1\r\nHost: cordon\r\nContent-Type: application/json\r\n' +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

const closed = (s: Socket) => new Promise<void>((resolve) => s.once('close', () => resolve()));

/** The server still decides for a well-behaved client. */
async function stillAnswers(): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { decision: string }).decision, 'allow');
}

describe('HTTP limits against hostile clients', () => {
  // Without the limits these never end: the per-test timeout turns that into a failure.
  it(
    'closes a connection that pipelines requests and never reads the answers',
    { timeout: 120_000 },
    async () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.pause(); // never read
      const gone = closed(socket);
      const batch = request.repeat(100);
      let open = true;
      void gone.then(() => (open = false));
      // Keep asking while the server lets us write: this would grow its memory without bound.
      const pump = () => {
        while (open && socket.write(batch));
      };
      socket.on('drain', pump);
      socket.once('connect', pump);
      await gone;
      assert.equal(socket.destroyed, true);
      await stillAnswers();
    },
  );

  it('cuts off a body sent one byte at a time, with a 408', { timeout: 120_000 }, async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const gone = closed(socket);
    let open = true;
    void gone.then(() => (open = false));
    socket.write(
      'POST /v1/decide HTTP/1.1\r\nHost: cordon\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    const bytes = Buffer.from(body);
    let i = 0;
    const drip = setInterval(() => {
      // The body never ends: one byte per tick, and the last one is held back.
      if (open && i < bytes.length - 1) socket.write(bytes.subarray(i, ++i));
    }, 50);
    await gone;
    clearInterval(drip);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    await stillAnswers();
  });

  it('cuts off headers sent one byte at a time', { timeout: 120_000 }, async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const gone = closed(socket);
    let open = true;
    void gone.then(() => (open = false));
    const head = Buffer.from(
      'GET /healthz HTTP/1.1\r\nHost: cordon\r\nX-Slow: ' + 'a'.repeat(1000),
    );
    let i = 0;
    const drip = setInterval(() => {
      if (open && i < head.length) socket.write(head.subarray(i, ++i));
    }, 50);
    await gone;
    clearInterval(drip);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    await stillAnswers();
  });
});
