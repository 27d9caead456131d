// Limits every Cordon HTTP listener applies against hostile clients (the decision API and the
// LLM gateway, MCP over HTTP, the egress proxy): a request must arrive whole within a time
// (headers one byte at a time, or a body that never ends, are cut off with a 408), and a
// connection that keeps asking without reading the answers is closed. Node already stops
// reading a socket whose answers back up (backpressure); a client that never reads would keep
// it, and what it holds, forever, and requests parsed before the pause would still pile up.

import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpLimits {
  /** The whole request, headers and body, must arrive within this. */
  requestTimeoutMs: number;
  /** The headers must arrive within this. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Requests one connection may have open (received, answer not yet taken by the client). */
  maxPendingPerConnection: number;
  /** The same over all connections: the connection whose request goes past it is closed. */
  maxPendingTotal: number;
  /** Answer bytes queued on a connection because its client does not read them. */
  maxUnreadBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxPendingPerConnection: 64,
  maxPendingTotal: 4096,
  maxUnreadBytes: 1024 * 1024,
};

/** The node:http server options that carry the time limits. */
export function serverOptions(l: HttpLimits): ServerOptions {
  return {
    requestTimeout: l.requestTimeoutMs,
    // Node refuses headersTimeout > requestTimeout (both cut off the same slow request).
    headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // How often node looks for requests past their time: often enough for the limits to bite.
    connectionsCheckingInterval: Math.max(
      10,
      Math.min(1000, Math.floor(Math.min(l.headersTimeoutMs, l.requestTimeoutMs) / 2)),
    ),
  };
}

/** Counts what each connection has asked and not taken, and closes those past the limits. */
export function guardPending(server: Server, l: HttpLimits): void {
  const pending = new WeakMap<Socket, number>();
  let total = 0;
  const overflowing = (s: Socket) => s.writableLength > l.maxUnreadBytes;
  server.prependListener('request', (req, res) => {
    const socket = req.socket;
    const mine = (pending.get(socket) ?? 0) + 1;
    pending.set(socket, mine);
    total++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      total--;
      pending.set(socket, (pending.get(socket) ?? 1) - 1);
      // An answer that ends up queued in memory because the client does not read: past the
      // limit the connection goes, with everything it holds.
      if (overflowing(socket)) socket.destroy();
    };
    res.once('finish', release);
    res.once('close', release);
    if (mine > l.maxPendingPerConnection || total > l.maxPendingTotal || overflowing(socket))
      socket.destroy();
  });
}

/** cordon.yaml's `limits` (seconds) as HttpLimits. */
export function limitsFromConfig(c: {
  requestTimeoutSeconds: number;
  headersTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  maxPendingPerConnection: number;
  maxPendingTotal: number;
  maxUnreadBytes: number;
}): HttpLimits {
  return {
    requestTimeoutMs: c.requestTimeoutSeconds * 1000,
    headersTimeoutMs: c.headersTimeoutSeconds * 1000,
    keepAliveTimeoutMs: c.keepAliveTimeoutSeconds * 1000,
    maxPendingPerConnection: c.maxPendingPerConnection,
    maxPendingTotal: c.maxPendingTotal,
    maxUnreadBytes: c.maxUnreadBytes,
  };
}
