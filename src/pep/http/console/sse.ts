// Server-sent events (WHATWG HTML §9.2) for the console's live pages. The route takes the
// response over from Fastify, writes `retry:` and a keep-alive comment every 15 s (proxies and
// browsers drop silent connections), and reports backpressure: `send` returns false once the
// socket buffer is full, and the producer awaits `drained()` before reading more, so a slow
// browser holds back only its own stream and never piles up memory in the server.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface EventStreamOptions {
  heartbeatMs?: number;
  /** Checked before each event and heartbeat: false ends the stream (a session signed out or expired). */
  stillAllowed?: () => boolean;
}

/** The open streams of an app, ended when it closes (a stream never ends on its own). */
const openStreams = new WeakMap<FastifyInstance, Set<EventStream>>();

/** Ends every open stream before `app` stops listening (call once per app). */
export function closeStreamsOnShutdown(app: FastifyInstance): void {
  if (openStreams.has(app)) return;
  openStreams.set(app, new Set());
  app.addHook('preClose', async () => {
    for (const s of [...(openStreams.get(app) ?? [])]) s.close();
  });
}

export class EventStream {
  private closedFlag = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closeListeners = new Set<() => void>();
  private readonly raw: FastifyReply['raw'];
  private finish: () => void = () => {};
  private readonly stillAllowed: (() => boolean) | undefined;

  constructor(req: FastifyRequest, reply: FastifyReply, o: EventStreamOptions = {}) {
    this.raw = reply.raw;
    reply.hijack();
    this.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    this.raw.write('retry: 3000\n\n');
    this.stillAllowed = o.stillAllowed;
    this.heartbeat = setInterval(() => {
      if (this.refused()) return;
      this.raw.write(': keep-alive\n\n');
    }, o.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
    const set = openStreams.get(req.server);
    set?.add(this);
    const end = (this.finish = () => {
      if (this.closedFlag) return;
      this.closedFlag = true;
      clearInterval(this.heartbeat);
      set?.delete(this);
      for (const l of [...this.closeListeners]) l();
    });
    req.raw.socket.once('close', end);
    this.raw.once('close', end);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Writes one event; false when the client is not keeping up (await `drained()`). */
  send(event: string, data: unknown, id?: number | string): boolean {
    if (this.closedFlag || this.refused()) return false;
    return this.write(event, data, id);
  }

  /**
   * Ends the stream, with an `end` event, once it is no longer allowed. Checked before every
   * event, not only at heartbeats: a session signed out must not see one more record.
   */
  private refused(): boolean {
    if (!this.stillAllowed || this.stillAllowed()) return false;
    this.write('end', { reason: 'the console session has expired or was signed out' });
    this.close();
    return true;
  }

  private write(event: string, data: unknown, id?: number | string): boolean {
    // JSON.stringify escapes line breaks inside strings, so `data` is always one line.
    const frame = `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    return this.raw.write(frame);
  }

  /** Resolves when the socket buffer has room again, or the stream closed. */
  drained(): Promise<void> {
    if (this.closedFlag || !this.raw.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.raw.off('drain', done);
        this.closeListeners.delete(done);
        resolve();
      };
      this.raw.once('drain', done);
      this.closeListeners.add(done);
    });
  }

  /** Runs `f` when the stream closes (at once if it has). */
  onClose(f: () => void): void {
    if (this.closedFlag) f();
    else this.closeListeners.add(f);
  }

  /** Ends the response (the client's EventSource will reconnect unless told otherwise). */
  close(): void {
    if (this.closedFlag) return;
    this.raw.end();
    this.finish();
  }
}
