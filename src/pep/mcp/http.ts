// The gateway over Streamable HTTP: a session per client, each with its own upstream
// connections. A request whose Host or Origin is not this gateway's is refused (DNS rebinding).
// Every request must carry a bearer token (401 otherwise): a Cordon delegation token or one from
// a configured issuer. It is verified on every request, so a revocation takes effect at once,
// and a session stays bound to the user and agent that opened it. Each principal may hold a
// bounded number of sessions (each one runs its own upstream processes), and a request that
// reuses the id of one still in flight is answered with an error at once.

import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { bearerOf, type Caller } from './bearer.js';
import type { DecisionService } from '../../decision/service.js';
import { GatewaySession, type ContentHook } from './gateway.js';
import { allowedHostnames, rebindingRefusal } from './origin.js';
import type { ToolPins } from './pins.js';
import type { IsolationWatch } from '../../isolation/watch.js';
import { duplicateIdError, RequestIds } from './request-ids.js';
import type { UpstreamSpec } from './upstream.js';
import {
  DEFAULT_HTTP_LIMITS,
  guardPending,
  serverOptions,
  type HttpLimits,
} from '../http/http-limits.js';

export interface McpHttpOptions {
  upstreams: UpstreamSpec[];
  decisions: DecisionService;
  /** Turns a bearer token into the caller's identity, or throws. */
  authenticate: (bearer: string) => Promise<Caller>;
  log: Logger;
  contentHook?: ContentHook;
  maxBodyBytes?: number;
  /** A session unused this long is closed, with its upstream connections (default 30 min). */
  idleTimeoutMs?: number;
  /** How long a tool call waits for a human's answer to an approval request. */
  approvalWaitMs?: number;
  /** Time limits and per-connection bounds against hostile clients. */
  limits?: Partial<HttpLimits>;
  /** The host the server is bound to: its name is accepted in Host (with the loopback names). */
  listenHost: string;
  /** More hostnames clients may use in Host and Origin (a DNS name for a non-loopback bind). */
  allowedHosts?: string[];
  /** Sessions one principal may hold at once (default 8): each runs its own upstreams. */
  maxSessionsPerPrincipal?: number;
  /** The operator's tool pins. */
  pins?: ToolPins;
  /** Isolation changes (full isolation closes the agent's sessions). */
  isolation?: IsolationWatch;
}

export const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 8;

interface Session {
  transport: StreamableHTTPServerTransport;
  gateway: GatewaySession;
  principal: string;
  lastSeen: number;
  ids: RequestIds;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body));
}

const rpcError = (code: number, message: string) => ({
  jsonrpc: '2.0',
  error: { code, message },
  id: null,
});

class BodyTooLarge extends Error {}

/** The parsed JSON body, or the HTTP answer to give instead. */
async function jsonBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ body: unknown } | { status: number; error: unknown }> {
  try {
    return { body: JSON.parse(await readBody(req, limit)) };
  } catch (e) {
    return e instanceof BodyTooLarge
      ? { status: 413, error: rpcError(-32600, `body over ${limit} bytes`) }
      : { status: 400, error: rpcError(-32700, 'parse error') };
  }
}

/**
 * Reads at most `limit` bytes. Past the limit the rest is drained and dropped (up to
 * DRAIN_CAP), so the client is still reading when the 413 arrives: closing the socket
 * mid-upload makes clients fail with EPIPE instead of seeing the answer.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit + DRAIN_CAP) break; // a flood: stop reading, the socket is closed
    if (size <= limit) chunks.push(c as Buffer);
  }
  if (size > limit) throw new BodyTooLarge();
  return Buffer.concat(chunks).toString('utf8');
}

/** How much of an oversized body is read and dropped before the connection is cut. */
const DRAIN_CAP = 64 * 1024 * 1024;

export function createMcpHttpServer(o: McpHttpOptions): {
  server: HttpServer;
  close(): Promise<void>;
} {
  const sessions = new Map<string, Session>();
  /** Sessions per principal, counted from the initialize that opens one until it closes. */
  const held = new Map<string, number>();
  const maxHeld = o.maxSessionsPerPrincipal ?? DEFAULT_MAX_SESSIONS_PER_PRINCIPAL;
  const hostnames = allowedHostnames(o.listenHost, o.allowedHosts);
  const limit = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const idle = o.idleTimeoutMs ?? 30 * 60_000;
  // Clients that vanish without DELETE would otherwise keep their upstream processes forever.
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idle;
      for (const [id, s] of sessions) {
        if (s.lastSeen < cutoff) {
          sessions.delete(id);
          void s.transport.close();
        }
      }
    },
    Math.min(idle, 60_000),
  ).unref();

  // The same time limits and per-connection bounds as the decision API (server/http-limits.ts).
  const limits = { ...DEFAULT_HTTP_LIMITS, ...o.limits };
  const server = createServer(serverOptions(limits), (req, res) => {
    void handle(req, res).catch((e: unknown) => {
      o.log.error({ err: e }, 'mcp http request failed');
      if (!res.headersSent) send(res, 500, rpcError(-32603, 'internal error'));
    });
  });
  guardPending(server, limits);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rebound = rebindingRefusal(req.headers, hostnames);
    if (rebound) return send(res, 403, { error: rebound });
    if (url.pathname !== '/mcp')
      return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    const bearer = bearerOf(req.headers.authorization);
    const challenge = { 'www-authenticate': 'Bearer realm="cordon"' };
    if (!bearer) return send(res, 401, { error: 'a bearer token is required' }, challenge);
    let caller: Caller;
    try {
      caller = await o.authenticate(bearer);
    } catch (e) {
      return send(
        res,
        401,
        { error: `invalid token: ${(e as Error).message}` },
        { 'www-authenticate': 'Bearer realm="cordon", error="invalid_token"' },
      );
    }
    const { principal } = caller;

    // A POST carries JSON-RPC: read it once, here, for both a new and an existing session.
    let body: unknown;
    if (req.method === 'POST') {
      const parsed = await jsonBody(req, limit);
      if ('status' in parsed) {
        // The rest of an oversized body is still on the socket: close it rather than reuse it.
        const close: Record<string, string> = parsed.status === 413 ? { connection: 'close' } : {};
        return send(res, parsed.status, parsed.error, close);
      }
      body = parsed.body;
    }

    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const s = sessions.get(sid);
      if (!s) return send(res, 404, rpcError(-32001, 'unknown session'));
      if (s.principal !== principal)
        return send(res, 403, rpcError(-32001, 'this session belongs to another user or agent'));
      if (caller.identity.token) s.gateway.useToken(caller.identity.token);
      s.lastSeen = Date.now();
      if (!claimIds(s.ids, body, res)) return;
      return s.transport.handleRequest(req, res, body);
    }

    if (req.method !== 'POST')
      return send(res, 400, rpcError(-32000, 'no session: send initialize first'));
    if (!isInitializeRequest(body))
      return send(res, 400, rpcError(-32000, 'no session: send initialize first'));

    const count = held.get(principal) ?? 0;
    if (count >= maxHeld)
      return send(
        res,
        429,
        rpcError(
          -32000,
          `${principal} already holds ${count} sessions, the limit: close one (DELETE /mcp) or let one expire`,
        ),
      );
    held.set(principal, count + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (held.get(principal) ?? 1) - 1;
      if (n > 0) held.set(principal, n);
      else held.delete(principal);
    };
    const ids = new RequestIds();
    const gateway = await GatewaySession.open({
      upstreams: o.upstreams,
      decisions: o.decisions,
      identity: caller.identity,
      ...(o.contentHook ? { contentHook: o.contentHook } : {}),
      ...(o.approvalWaitMs ? { approvalWaitMs: o.approvalWaitMs } : {}),
      ...(o.pins ? { pins: o.pins } : {}),
      ...(o.isolation ? { isolation: o.isolation } : {}),
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        gateway.session = id;
        sessions.set(id, { transport, gateway, principal, lastSeen: Date.now(), ids });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      release();
      void gateway.close();
    };
    await gateway.server.connect(transport);
    ids.watch(transport, false);
    claimIds(ids, body, res);
    // An initialize the transport refused opens no session: its place is given back.
    res.once('close', () => {
      if (!transport.sessionId) {
        release();
        void gateway.close();
      }
    });
    await transport.handleRequest(req, res, body);
  }

  /**
   * Claims the ids of a POST's requests for the session, or answers 409 when one is in flight.
   * If the transport refuses the POST (a 4xx), no handler runs: the ids are released.
   */
  function claimIds(ids: RequestIds, body: unknown, res: ServerResponse): boolean {
    if (body === undefined) return true;
    const reused = ids.claim(body);
    if (reused !== undefined) {
      send(res, 409, duplicateIdError(reused));
      return false;
    }
    res.once('close', () => {
      if (res.statusCode >= 400)
        for (const m of Array.isArray(body) ? body : [body]) {
          const id = (m as { id?: unknown })?.id;
          if (typeof id === 'string' || typeof id === 'number') ids.release(id);
        }
    });
    return true;
  }

  return {
    server,
    async close() {
      clearInterval(sweeper);
      await Promise.allSettled([...sessions.values()].map((s) => s.gateway.close()));
      sessions.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
