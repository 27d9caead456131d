// The PDP's HTTP API (DESIGN §3): /v1/decide, AuthZEN, /healthz, /metrics. Every error the
// client can cause is a 4xx with {"error": …}; anything else is a 500 without internals.

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { actionRequestSchema, formatIssues } from '../core/request.js';
import type { ActionRequest } from '../core/types.js';
import {
  AuthzenError,
  parseEvaluation,
  parseEvaluations,
  toActionRequest,
  toAuthzenResponse,
} from './authzen.js';
import { registerApprovalRoutes, type ApprovalRoutesOptions } from './approval-routes.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerLlmRoutes, type LlmRoutesOptions } from '../llm/routes.js';
import { registerTokenRoutes, type TokenRoutesOptions } from './token-routes.js';
import type { DecisionService } from './decisions.js';
import type { Metrics } from './metrics.js';

export interface AppOptions {
  decisions: DecisionService;
  metrics: Metrics;
  logger: Logger;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
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
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Decisions are logged by the decision service; per-request access logs would double them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  const { decisions, metrics } = opts;
  const trusted = (req: FastifyRequest, r: ActionRequest): ActionRequest => {
    const types = opts.trustedFor?.(req);
    return types?.length ? { ...r, trustedFor: types } : r;
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status =
      err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(500).send({ error: 'internal error' });
    }
    return reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url}` }),
  );

  app.post('/v1/decide', async (req, reply) => {
    const parsed = actionRequestSchema.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send({ error: formatIssues(parsed.error) });
    return decisions.decide(trusted(req, { pep: 'http', ...(parsed.data as ActionRequest) }));
  });

  app.post('/access/v1/evaluation', async (req, reply) => {
    try {
      const request = trusted(req, toActionRequest(parseEvaluation(req.body)));
      return toAuthzenResponse(await decisions.decide(request));
    } catch (e) {
      if (e instanceof AuthzenError) return reply.code(400).send({ error: e.message });
      throw e;
    }
  });

  app.post('/access/v1/evaluations', async (req, reply) => {
    let parsed;
    let requests: ActionRequest[];
    try {
      parsed = parseEvaluations(req.body);
      requests = parsed.items.map((i) => trusted(req, toActionRequest(i)));
    } catch (e) {
      if (e instanceof AuthzenError) return reply.code(400).send({ error: e.message });
      throw e;
    }
    const out = [];
    for (const r of requests) {
      const res = toAuthzenResponse(await decisions.decide(r));
      out.push(res);
      if (parsed.semantic === 'deny_on_first_deny' && !res.decision) break;
      if (parsed.semantic === 'permit_on_first_permit' && res.decision) break;
    }
    return { evaluations: out };
  });

  if (decisions.audit) registerAuditRoutes(app, decisions.audit);
  if (opts.approvals) registerApprovalRoutes(app, { ...opts.approvals, decisions });
  if (opts.llm) registerLlmRoutes(app, { ...opts.llm, decisions });
  const identity = opts.identity;
  // Its own plugin scope, so the form parser applies to the token endpoints only.
  if (identity)
    void app.register(async (scope) => registerTokenRoutes(scope, { ...identity, decisions }));

  app.get('/healthz', async () => {
    const set = decisions.engine.policies;
    const reloadError = opts.reloadError?.();
    return {
      status: 'ok',
      policyVersion: set.version,
      policies: set.size,
      ...(decisions.audit ? { auditRecords: decisions.audit.size } : {}),
      ...(reloadError ? { reloadError } : {}),
    };
  });

  app.get('/metrics', async (_req, reply) => {
    metrics.policies.set(decisions.engine.policies.size);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
