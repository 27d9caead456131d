// The HTTP listener: Envoy's ext_authz http_service and the Kubernetes webhook authorizer.
//
// http_service: Envoy sends the original method, `path_prefix` + the original path and query,
// and the original headers (Host, Authorization and those `allowed_headers` lets through). A 200
// allows, and the headers `allowed_upstream_headers` names are set on the forwarded request
// (x-envoy-auth-headers-to-remove lists those to strip); any other status denies, and the
// client gets that status and body.
//
// Kubernetes: POST of a SubjectAccessReview at `kubernetes.path`, answered with its status.

import { readFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from 'pino';
import {
  DEFAULT_HTTP_LIMITS,
  guardPending,
  serverOptions,
  type HttpLimits,
} from '../http/http-limits.js';
import { CREDENTIAL_HEADER, type ExtAuthzChecker } from './check.js';
import { isLoopbackHost } from './grpc.js';
import {
  answer,
  parseReview,
  ReviewError,
  type KubernetesMapping,
  type ReviewStatus,
  type SubjectAccessReview,
} from './kubernetes.js';
import { refusal, type Verdict } from './verdict.js';

export interface HttpListen {
  host: string;
  port: number;
  tls?: { cert: string; key: string } | undefined;
  pathPrefix: string;
  bodyLimit: number;
}

export interface RunningHttp {
  port: number;
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

/** The body, up to `limit` bytes (BodyTooLarge past it). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(`the body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body = '',
): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendVerdict(res: ServerResponse, v: Verdict): void {
  if (v.allowed) {
    const headers: Record<string, string> = { ...v.clientHeaders, ...v.upstreamHeaders };
    if (v.removeHeaders.length > 0)
      headers['x-envoy-auth-headers-to-remove'] = v.removeHeaders.join(', ');
    send(res, 200, headers);
    return;
  }
  send(res, v.status, v.clientHeaders, v.body ?? '');
}

/** Node's headers as one string each (repeated ones joined with ","), without the credential. */
function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === CREDENTIAL_HEADER || v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** What Cordon's decision means for a review. */
async function reviewStatus(
  checker: ExtAuthzChecker,
  mapping: KubernetesMapping,
  review: SubjectAccessReview,
): Promise<ReviewStatus> {
  const final = mapping.config.onDeny === 'deny';
  const mapped = mapping.map(review);
  if (mapped.kind === 'refuse')
    return { allowed: false, ...(final ? { denied: true } : {}), reason: mapped.message };
  const d = await checker.decide(mapped.request);
  if (!('decisionId' in d))
    return {
      allowed: false,
      ...(final ? { denied: true } : {}),
      reason: d.message,
      evaluationError: d.message,
    };
  if (d.decision === 'allow') return { allowed: true, reason: `cordon decision ${d.decisionId}` };
  const why = d.reasons.map((r) => r.message ?? r.policy).join('; ');
  const approval = d.approval ? `; approval ${d.approval.id} is ${d.approval.status}` : '';
  return {
    allowed: false,
    ...(final ? { denied: true } : {}),
    reason: `cordon ${d.decision}: ${why}${approval} (decision ${d.decisionId})`,
  };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export async function startHttpServer(
  checker: ExtAuthzChecker,
  kubernetes: KubernetesMapping | undefined,
  where: HttpListen,
  log: Logger,
  limits: HttpLimits = DEFAULT_HTTP_LIMITS,
): Promise<RunningHttp> {
  const loopback = isLoopbackHost(where.host);
  const prefix = where.pathPrefix;

  async function review(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The API server authenticates with the kubeconfig's user token: Authorization: Bearer.
    const caller = checker.authenticate(req.headers.authorization, loopback);
    if (!caller.ok) {
      send(
        res,
        401,
        { ...JSON_HEADERS, 'www-authenticate': 'Bearer' },
        JSON.stringify({ error: caller.message }),
      );
      return;
    }
    let parsed: SubjectAccessReview;
    try {
      parsed = parseReview(JSON.parse((await readBody(req, where.bodyLimit)).toString('utf8')));
    } catch (e) {
      const message =
        e instanceof ReviewError || e instanceof BodyTooLarge
          ? e.message
          : e instanceof SyntaxError
            ? 'the body is not JSON'
            : 'the review could not be read';
      send(res, 400, JSON_HEADERS, JSON.stringify({ error: message }));
      return;
    }
    const status = await reviewStatus(checker, kubernetes!, parsed);
    send(res, 200, JSON_HEADERS, JSON.stringify(answer(parsed, status)));
  }

  async function check(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    const credential = req.headers[CREDENTIAL_HEADER];
    const caller = checker.authenticate(
      typeof credential === 'string' ? credential : undefined,
      loopback,
    );
    if (!caller.ok) {
      log.warn({ peer: req.socket.remoteAddress }, `ext_authz caller refused: ${caller.message}`);
      sendVerdict(res, refusal(403, caller.message));
      return;
    }
    try {
      await readBody(req, where.bodyLimit); // with_request_body: read, not used
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      sendVerdict(res, refusal(400, e.message));
      return;
    }
    const headers = flatHeaders(req);
    sendVerdict(
      res,
      await checker.checkHttp({
        method: req.method ?? '',
        path: target,
        host: headers.host ?? '',
        headers,
      }),
    );
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const done = (e: unknown) => {
      log.error({ err: e }, 'ext_authz http check failed; denying');
      if (!res.headersSent) sendVerdict(res, refusal(503, 'the check failed'));
      else res.destroy();
    };
    if (kubernetes && url.split('?', 1)[0] === kubernetes.config.path) {
      if (req.method !== 'POST') {
        send(
          res,
          405,
          { ...JSON_HEADERS, allow: 'POST' },
          JSON.stringify({ error: 'POST a SubjectAccessReview' }),
        );
        return;
      }
      review(req, res).catch(done);
      return;
    }
    // Envoy puts path_prefix before the original path; anything else is not a check.
    if (!url.startsWith(`${prefix}/`)) {
      sendVerdict(
        res,
        refusal(403, `not an ext_authz check: the path does not start with ${prefix}/`),
      );
      return;
    }
    check(req, res, url.slice(prefix.length)).catch(done);
  };

  const options = serverOptions(limits);
  const server = where.tls
    ? createHttpsServer(
        { ...options, cert: await readFile(where.tls.cert), key: await readFile(where.tls.key) },
        handler,
      )
    : createHttpServer(options, handler);
  guardPending(server, limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : where.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
