// The PDP's HTTP API (DESIGN §3): /v1/decide, AuthZEN, /healthz, /metrics. Every error the
// client can cause is a 4xx with {"error": …}; anything else is a 500 without internals.

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { actionRequestSchema, formatIssues } from '../../core/request.js';
import { resourceAttrsProblem } from '../../core/resource-attrs.js';
import type { ActionRequest } from '../../core/types.js';
import { AuthzenError } from './authzen.js';
import { traceRoutes } from './tracing.js';
import { registerAuthzenRoutes, type AuthzenOptions } from './authzen-routes.js';
import { registerApprovalRoutes, type ApprovalRoutesOptions } from './approval-routes.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerFailureRoutes } from './failure-routes.js';
import { withResultAction } from '../../decision/result-action.js';
import { registerIsolationRoutes } from './isolation-routes.js';
import type { IsolationService } from '../../isolation/service.js';
import { registerBaselineRoutes } from './baseline-routes.js';
import type { AuditRecord } from '../../audit/record.js';
import type { BaselineService } from '../../risk/baseline-service.js';
import type { LlmRoutesOptions } from '../llm/routes.js';
import { registerTokenRoutes, type TokenRoutesOptions } from './token-routes.js';
import {
  declareRouteClass,
  installAuth,
  onLoopbackListener,
  type AuthOptions,
  type Caller,
} from './auth.js';
import type { DecisionService } from '../../decision/service.js';
import {
  DEFAULT_HTTP_LIMITS,
  guardPending,
  serverOptions,
  type HttpLimits,
} from './http-limits.js';
import type { Metrics } from '../../decision/metrics.js';
import type { BundleStatus } from '../../policy/bundle-source.js';
import type { PolicyPeers } from '../../policy/version-gossip.js';
import { authorizeControl, ControlDenied, controlPlane, sendDenied } from './control.js';
import { registerConsoleRoutes, type ConsoleOptions } from './console/index.js';

export interface AppOptions {
  decisions: DecisionService;
  metrics: Metrics;
  logger: Logger;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  /** Time limits and per-connection bounds against hostile clients (http-limits.ts). */
  limits?: Partial<HttpLimits>;
  /** Delegation tokens: exchange, revocation, JWKS. */
  identity?: Omit<TokenRoutesOptions, 'decisions'>;
  /** The LLM gateway (OpenAI and Anthropic APIs), when upstreams are configured. */
  llm?: Omit<LlmRoutesOptions, 'decisions'>;
  /** Approval requests: list, wait, approve, deny. */
  approvals?: Omit<ApprovalRoutesOptions, 'decisions'>;
  /** Reports the last failed reload, if the serving set is not the directory's latest. */
  reloadError?: () => string | undefined;
  /**
   * The resource types whose `parents` this caller is trusted to state (resource-trust.ts).
   * Without it, or for a caller it gives nothing, set membership comes from entities.json only.
   */
  trustedFor?: (req: FastifyRequest) => string[] | undefined;
  /** Who may call (auth.ts). Without it, only anonymous loopback decision calls get through. */
  auth?: AuthOptions;
  /** Isolation states: apply, list, release (isolation-routes.ts). */
  isolation?: IsolationService;
  /** The peers' policy versions, where nodes share a change bus (shown in /healthz). */
  policyPeers?: () => PolicyPeers | undefined;
  /** The policy bundle's state, when the policies come from one (shown in /healthz). */
  policyBundle?: () => BundleStatus | undefined;
  /** Each storage part's state: "ok" or what is wrong (Stores.health, shown in /healthz). */
  storage?: () => Promise<Record<string, string>>;
  /** Behavioral baselines: show, mode, reset, suggest (baseline-routes.ts). */
  baselines?: BaselineService;
  /** AuthZEN: subject mapping, the PDP identifier, search limits (authzen-routes.ts). */
  authzen?: AuthzenOptions;
  /** Reloads the policies (POST /v1/policies/reload); absent when nothing can be reloaded. */
  reload?: () => Promise<void>;
  /** The web console: sessions, its API routes and /ui (console/). */
  console?: Omit<ConsoleOptions, 'decisions'>;
}

class CallerConflict extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The request as the caller may make it. The record's `pep` and `parent` come from who is
 * calling, never from the body: only a PEP's credential names a PEP (its own) and links a
 * parent decision. An agent's delegation token decides as that agent: a different token in the
 * body is refused, and an agent or user that is not the token's is denied by the identity stage.
 */
function asCaller(r: ActionRequest, caller: Caller, defaultPep: string): ActionRequest {
  const { pep: _pep, parent, ...rest } = r;
  if (caller.kind === 'pep')
    return { ...rest, pep: caller.name, ...(parent !== undefined ? { parent } : {}) };
  if (caller.kind === 'agent') {
    if (rest.token !== undefined && rest.token !== caller.token)
      throw new CallerConflict('the body names a delegation token other than the bearer');
    return { ...rest, token: caller.token, pep: defaultPep };
  }
  return { ...rest, pep: defaultPep };
}

// Fastify's JSON-schema compilers (ajv, fast-json-stringify) are loaded when a route first
// declares a schema, not when the app is built: Cordon's routes validate with zod and declare
// none, and loading them was the largest part of `cordon serve`'s start-up (docs/perf.md).
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
let validatorFactory: ((...a: unknown[]) => unknown) | undefined;
let serializerFactory: ((...a: unknown[]) => unknown) | undefined;
const LAZY_SCHEMA_COMPILERS = {
  buildValidator: (...a: unknown[]) =>
    (validatorFactory ??= (
      fastifyRequire('@fastify/ajv-compiler') as () => typeof validatorFactory
    )())!(...a),
  buildSerializer: (...a: unknown[]) =>
    (serializerFactory ??= (
      fastifyRequire('@fastify/fast-json-stringify-compiler') as () => typeof serializerFactory
    )())!(...a),
} as never;

export function buildApp(opts: AppOptions): FastifyInstance {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Decisions are logged by the decision service; per-request access logs would double them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Fastify's own default is no request timeout: a body sent a byte at a time never ends.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: serverOptions(limits),
    schemaController: { compilersFactory: LAZY_SCHEMA_COMPILERS },
  });
  guardPending(app.server, limits);
  // Bodies are JSON (the token endpoints add the form parser in their own scope): a text/plain
  // body is a media type the API does not accept, so 415, not a parsed string refused as 400.
  app.removeContentTypeParser('text/plain');
  const { decisions, metrics } = opts;
  const trusted = (req: FastifyRequest, r: ActionRequest): ActionRequest => {
    const types = opts.trustedFor?.(req);
    return types?.length ? { ...r, trustedFor: types } : r;
  };
  installAuth(app, {
    ...opts.auth,
    ...(opts.console ? { console: opts.console.sessions } : {}),
  });
  if (decisions.tracer) traceRoutes(app, decisions.tracer);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status =
      err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(500).send({ error: 'internal error' });
    }
    if (status === 415) {
      // Fastify says only "Unsupported Media Type": name the type and what to send instead.
      const type = String(req.headers['content-type'] ?? 'none')
        .split(';')[0]!
        .trim();
      return reply
        .code(415)
        .send({ error: `content type "${type}" is not accepted: send application/json` });
    }
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url}` }),
  );

  const decision = { config: { auth: 'decision' as const } };

  app.post('/v1/decide', decision, async (req, reply) => {
    const { caller } = req;
    // An agent's bearer token is its identity: the body need not repeat it.
    const body =
      caller.kind === 'agent' && isObject(req.body) && req.body.token === undefined
        ? { ...req.body, token: caller.token }
        : req.body;
    const parsed = actionRequestSchema.safeParse(body);
    if (!parsed.success) return reply.code(400).send({ error: formatIssues(parsed.error) });
    const attrsProblem = resourceAttrsProblem(decisions.engine.policies, parsed.data.resource);
    if (attrsProblem)
      return reply
        .code(400)
        .send({ error: `resource attributes contradict the schema: ${attrsProblem}` });
    try {
      const request = parsed.data as ActionRequest;
      return withResultAction(
        decisions.engine.policies,
        request,
        await decisions.decide(trusted(req, asCaller(request, req.caller, 'http'))),
      );
    } catch (e) {
      if (e instanceof CallerConflict) return reply.code(400).send({ error: e.message });
      throw e;
    }
  });

  const authzen = opts.authzen ?? {};
  // Its own plugin scope, so the X-Request-ID echo applies to the AuthZEN routes only.
  void app.register(async (scope) =>
    registerAuthzenRoutes(scope, {
      decisions,
      options: authzen,
      prepare: (req, r) => {
        try {
          return trusted(req, asCaller(r, req.caller, 'authzen'));
        } catch (e) {
          if (e instanceof CallerConflict) throw new AuthzenError(e.message);
          throw e;
        }
      },
    }),
  );

  if (decisions.audit) registerAuditRoutes(app, decisions.audit, decisions);
  if (decisions.audit) registerFailureRoutes(app, decisions.audit, decisions);
  if (opts.approvals) registerApprovalRoutes(app, { ...opts.approvals, decisions });
  if (opts.isolation) registerIsolationRoutes(app, { isolation: opts.isolation, decisions });
  const audit = decisions.audit;
  if (opts.baselines)
    registerBaselineRoutes(app, {
      baselines: opts.baselines,
      decisions,
      // Page by page: the log can be larger than memory.
      ...(audit
        ? {
            async *records(since: string | undefined): AsyncGenerator<AuditRecord> {
              for (let after = -1; ;) {
                const rows = await audit.store.query({
                  ...(since ? { since } : {}),
                  after,
                  limit: 500,
                });
                for (const row of rows) yield JSON.parse(row.record) as AuditRecord;
                if (rows.length < 500) return;
                after = rows.at(-1)!.seq;
              }
            },
          }
        : {}),
    });
  if (opts.console)
    registerConsoleRoutes(app, {
      ...(opts.auth?.people ? { people: opts.auth.people } : {}),
      ...opts.console,
      decisions,
    });
  const llm = opts.llm;
  // The LLM gateway authenticates its callers itself (gateway keys, delegation tokens).
  if (llm)
    void app.register(async (scope) => {
      declareRouteClass(scope, 'self');
      // Loaded only when configured: the gateway brings the content detectors with it.
      const { registerLlmRoutes } = await import('../llm/routes.js');
      registerLlmRoutes(scope, { ...llm, decisions });
    });
  const identity = opts.identity;
  // Its own plugin scope, so the form parser applies to the token endpoints only.
  if (identity)
    void app.register(async (scope) => registerTokenRoutes(scope, { ...identity, decisions }));
  const reload = opts.reload;
  if (reload)
    app.post('/v1/policies/reload', { config: { auth: 'control' } }, async (req, reply) => {
      try {
        await authorizeControl(decisions, req.caller, 'reload', controlPlane('policies'));
      } catch (e) {
        if (e instanceof ControlDenied) return sendDenied(reply, e);
        throw e;
      }
      await reload();
      const reloadError = opts.reloadError?.();
      if (reloadError)
        return reply.code(422).send({ error: `the policies do not compile: ${reloadError}` });
      return { policyVersion: decisions.engine.policies.version };
    });

  // A liveness probe answers anyone; what is served, and how much is logged, only on loopback.
  app.get('/healthz', { config: { auth: 'public' } }, async (req) => {
    if (!onLoopbackListener(req)) return { status: 'ok' };
    const set = decisions.engine.policies;
    const reloadError = opts.reloadError?.();
    const bundle = opts.policyBundle?.();
    const peers = opts.policyPeers?.();
    return {
      status: 'ok',
      policyVersion: set.version,
      policies: set.size,
      ...(decisions.audit ? { auditRecords: decisions.audit.size } : {}),
      // A log shared by several nodes: whether this one sequences and signs it now.
      ...(decisions.audit && 'isSequencer' in decisions.audit
        ? { auditSequencer: decisions.audit.isSequencer }
        : {}),
      // The isolation store failing keeps the last states applied: say so where it is looked at.
      ...(opts.isolation && opts.isolation.health() !== 'ok'
        ? { isolation: opts.isolation.health() }
        : {}),
      ...(reloadError ? { reloadError } : {}),
      ...(bundle ? { policyBundle: bundle } : {}),
      ...(peers ? { policyPeers: peers } : {}),
      ...(opts.storage ? { storage: await opts.storage() } : {}),
    };
  });

  app.get('/metrics', decision, async (_req, reply) => {
    metrics.policies.set(decisions.engine.policies.size);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
