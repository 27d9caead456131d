// Delegation token endpoints: RFC 8693 exchange (form or JSON; the subject token is the
// credential), revocation and its lifting (control plane: `revokeToken`, `reinstateAgent`),
// and the JWKS (public).

import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { formatIssues } from '../../core/request.js';
import { ExchangeError, exchangeToken, TOKEN_EXCHANGE_GRANT } from '../../identity/exchange.js';
import type { Revocations } from '../../store/cache/revocations.js';
import { jwks, type TokenKey } from '../../identity/token-keys.js';
import { TOKEN_TYPE_JWT, type TokenService } from '../../identity/tokens.js';
import type { DecisionService } from '../../decision/service.js';
import { authorizeControl, ControlDenied, sendDenied } from './control.js';

export interface TokenRoutesOptions {
  tokens: TokenService;
  keys: TokenKey[];
  revocations: Revocations;
  decisions: DecisionService;
}

const exchangeBody = z.object({
  grant_type: z.literal(TOKEN_EXCHANGE_GRANT, {
    error: `grant_type must be ${TOKEN_EXCHANGE_GRANT}`,
  }),
  subject_token: z.string().min(1),
  subject_token_type: z
    .enum([TOKEN_TYPE_JWT, 'urn:ietf:params:oauth:token-type:access_token'])
    .optional(),
  requested_token_type: z.literal(TOKEN_TYPE_JWT).optional(),
  /** Cordon's parameter: the agent that will hold the new token. */
  agent: z.string().min(1, 'agent (the target agent) is required'),
  scope: z.string().min(1).optional(),
  audience: z.string().min(1).optional(),
  expires_in: z.coerce.number().int().positive().max(86_400).optional(),
});

const revokeBody = z.union(
  [z.strictObject({ jti: z.string().min(1) }), z.strictObject({ agent: z.string().min(1) })],
  {
    error: 'send {"jti": …} or {"agent": …}',
  },
);

const reinstateBody = z.strictObject({ agent: z.string().min(1) }, { error: 'send {"agent": …}' });

export async function registerTokenRoutes(
  app: FastifyInstance,
  o: TokenRoutesOptions,
): Promise<void> {
  await app.register(formbody);
  const published = await jwks(o.keys);

  app.get('/.well-known/jwks.json', { config: { auth: 'public' } }, async () => published);

  app.post('/v1/token/exchange', { config: { auth: 'self' } }, async (req, reply) => {
    const body = exchangeBody.safeParse(req.body);
    if (!body.success)
      return reply
        .code(400)
        .send({ error: 'invalid_request', error_description: formatIssues(body.error) });
    const b = body.data;
    try {
      const r = await exchangeToken(o.tokens, (ar) => o.decisions.decide(ar), {
        subjectToken: b.subject_token,
        agent: b.agent,
        ...(b.scope ? { scope: b.scope } : {}),
        ...(b.audience ? { audience: b.audience } : {}),
        ...(b.expires_in ? { ttlSeconds: b.expires_in } : {}),
      });
      return reply.header('cache-control', 'no-store').send({
        access_token: r.token,
        issued_token_type: TOKEN_TYPE_JWT,
        token_type: 'N_A',
        expires_in: r.expiresAt - Math.floor(Date.now() / 1000),
        scope: r.scope,
        delegation_depth: r.depth,
        decision_id: r.decision.decisionId,
      });
    } catch (e) {
      if (!(e instanceof ExchangeError)) throw e;
      return reply.code(e.code === 'access_denied' ? 403 : 400).send({
        error: e.code,
        error_description: e.message,
        ...(e.decision ? { decision_id: e.decision.decisionId, reasons: e.decision.reasons } : {}),
      });
    }
  });

  const control = { config: { auth: 'control' as const } };

  app.post('/v1/token/revoke', control, async (req, reply) => {
    const body = revokeBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    const target =
      'jti' in body.data
        ? { type: 'Token', id: body.data.jti }
        : { type: 'Agent', id: body.data.agent };
    try {
      await authorizeControl(o.decisions, req.caller, 'revokeToken', target);
    } catch (e) {
      if (e instanceof ControlDenied) return sendDenied(reply, e);
      throw e;
    }
    if ('jti' in body.data) await o.revocations.revokeToken(body.data.jti);
    else await o.revocations.revokeAgent(body.data.agent);
    return { revoked: body.data };
  });

  // Lifts an agent's revocation: it may be delegated to again. Tokens issued before the
  // revocation stay revoked.
  app.post('/v1/token/reinstate', control, async (req, reply) => {
    const body = reinstateBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    try {
      await authorizeControl(o.decisions, req.caller, 'reinstateAgent', {
        type: 'Agent',
        id: body.data.agent,
      });
    } catch (e) {
      if (e instanceof ControlDenied) return sendDenied(reply, e);
      throw e;
    }
    const lifted = await o.revocations.reinstateAgent(body.data.agent);
    if (!lifted) return reply.code(404).send({ error: `agent ${body.data.agent} is not revoked` });
    return { reinstated: body.data };
  });
}
