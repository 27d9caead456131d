// The egress proxy: an HTTP forward proxy (absolute-form requests and CONNECT tunnels) on
// loopback. Each destination is a `connectNetwork` decision on NetworkDestination
// "host:port", made by the caller's decision function (Cordon's DecisionService, so each
// is audited). Host names the kernel cannot see are governed here; the kernel rules make this
// proxy the agent's only way to reach them. Anything but a clear allow is refused.

import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { destinationHost } from './sets.js';
import {
  DEFAULT_HTTP_LIMITS,
  guardPending,
  serverOptions,
  type HttpLimits,
} from '../server/http-limits.js';

export interface EgressVerdict {
  allow: boolean;
  decisionId?: string;
  reason?: string;
}

export type EgressDecide = (host: string, port: number) => Promise<EgressVerdict>;

export interface EgressProxy {
  port: number;
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

function refusal(v: EgressVerdict, host: string, port: number): string {
  const body = JSON.stringify({
    error: 'forbidden by policy',
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
    const v = await verdict(decide, host, port);
    if (!v.allow) {
      req.socket.end(refusal(v, host, port));
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
    const v = await verdict(decide, dest.host, dest.port);
    if (!v.allow) {
      client.end(refusal(v, dest.host, dest.port));
      return;
    }
    const up = connect(dest.port, dest.host);
    sockets.add(up);
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export { destId };
