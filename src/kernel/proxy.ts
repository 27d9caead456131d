// The egress proxy: an HTTP forward proxy (absolute-form requests and CONNECT tunnels) on
// loopback. Each destination is a `connectNetwork` decision on NetworkDestination
// "host:port", made by the caller's decision function (Cordon's DecisionService, so each
// is audited). Host names the kernel cannot see are governed here; the kernel rules make this
// proxy the agent's only way to reach them. Anything but a clear allow is refused. An isolation
// of the agent (sandbox/isolation.ts) refuses before any decision and closes what is open.

import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { destinationHost } from './sets.js';
import {
  DEFAULT_HTTP_LIMITS,
  guardPending,
  serverOptions,
  type HttpLimits,
} from '../pep/http/http-limits.js';

export interface EgressVerdict {
  allow: boolean;
  decisionId?: string;
  reason?: string;
}

export type EgressDecide = (host: string, port: number) => Promise<EgressVerdict>;

/**
 * An isolation in force for the proxy's agent: every destination it does not let through is
 * refused before any decision, and connections already open to one are closed.
 */
export interface EgressIsolation {
  /** Shown in each refusal: names the isolation and why it was applied. */
  reason: string;
  /** Destinations still reachable (egress "baseline"); absent: none at all. */
  allows?: (host: string, port: number) => boolean;
}

export interface EgressProxy {
  port: number;
  /**
   * Applies an isolation (undefined: lifts it). Open tunnels and requests to destinations it
   * refuses are closed at once; returns how many were closed.
   */
  isolate(isolation: EgressIsolation | undefined): number;
  close(): Promise<void>;
}

/** `host:port` or `[v6]:port` → parts; undefined when malformed. */
export function parseAuthority(a: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d{1,5})$/.exec(a);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const host = destinationHost(m[1] ?? m[2]!);
  return host === undefined ? undefined : { host, port };
}

const destId = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

async function verdict(decide: EgressDecide, host: string, port: number): Promise<EgressVerdict> {
  try {
    return await decide(host, port);
  } catch (e) {
    return { allow: false, reason: `decision failed: ${(e as Error).message}` };
  }
}

function refusal(v: EgressVerdict, host: string, port: number, isolated = false): string {
  const body = JSON.stringify({
    error: isolated ? 'forbidden by isolation' : 'forbidden by policy',
    destination: destId(host, port),
    decisionId: v.decisionId,
    reason: v.reason,
  });
  return (
    'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n' +
    (v.decisionId ? `X-Cordon-Decision: ${v.decisionId}\r\n` : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

export async function startEgressProxy(
  decide: EgressDecide,
  listenHost = '127.0.0.1',
  limits: Partial<HttpLimits> = {},
): Promise<EgressProxy> {
  const sockets = new Set<Socket>();
  let isolation: EgressIsolation | undefined;
  /** Open connections by destination: what an isolation applied later must close. */
  const open = new Map<Socket, { host: string; port: number; up?: { destroy(): void } }>();
  /** The isolation's refusal for a destination, or undefined when it may go on. */
  const isolated = (host: string, port: number): EgressVerdict | undefined =>
    isolation && !isolation.allows?.(host, port)
      ? { allow: false, reason: isolation.reason }
      : undefined;
  /**
   * The isolation is checked before the decision and again after it: one applied while the
   * decision was made still refuses (a decision is never newer than the isolation it missed).
   */
  const gate = async (host: string, port: number) => {
    const before = isolated(host, port);
    if (before) return { v: before, iso: true };
    const v = await verdict(decide, host, port);
    const after = isolated(host, port);
    return after ? { v: after, iso: true } : { v, iso: false };
  };
  // Slow headers and clients that pipeline without reading are cut off as on every listener;
  // a forwarded upload may take longer than an API request.
  const l = { ...DEFAULT_HTTP_LIMITS, requestTimeoutMs: 300_000, ...limits };
  const server = createServer(serverOptions(l), async (req, res) => {
    // Absolute-form: GET http://host:port/path
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('only http:// is proxied without CONNECT');
    } catch (e) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (e as Error).message }));
      return;
    }
    const host = destinationHost(url.hostname.replace(/^\[|\]$/g, ''));
    if (host === undefined) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `${url.hostname}: not an address Cedar reads, nor a name` }));
      return;
    }
    const port = Number(url.port || 80);
    const { v, iso } = await gate(host, port);
    if (!v.allow) {
      req.socket.end(refusal(v, host, port, iso));
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const up = httpRequest(
      { host, port, method: req.method, path: `${url.pathname}${url.search}`, headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `upstream: ${e.message}` }));
    });
    const socket = req.socket;
    open.set(socket, { host, port, up });
    res.once('close', () => {
      if (open.get(socket)?.up === up) open.delete(socket);
    });
    req.pipe(up);
  });

  guardPending(server, l);

  server.on('connect', async (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const dest = parseAuthority(req.url ?? '');
    if (!dest) {
      client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const { v, iso } = await gate(dest.host, dest.port);
    if (!v.allow) {
      client.end(refusal(v, dest.host, dest.port, iso));
      return;
    }
    const up = connect(dest.port, dest.host);
    sockets.add(up);
    open.set(client, { ...dest, up });
    client.on('close', () => open.delete(client));
    up.on('close', () => sockets.delete(up));
    up.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', (e) => {
      if (client.writable && !up.readyState.includes('open'))
        client.end(`HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n${e.message}`);
      else client.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    isolate: (i) => {
      isolation = i;
      let closed = 0;
      for (const [client, c] of open) {
        if (!isolated(c.host, c.port)) continue;
        open.delete(client);
        c.up?.destroy();
        client.destroy();
        closed++;
      }
      return closed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export { destId };
