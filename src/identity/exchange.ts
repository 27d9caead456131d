// RFC 8693 token exchange, one delegation hop: the holder of a token asks for a token for the
// next agent. The hop is itself a policy decision (`delegate` on the target agent, made with the
// parent token, so its depth and chain are in context); the new scope must be within the
// parent's (a wider request is refused, never trimmed); depth grows by one; the new token
// never outlives its parent and names every token it descends from (revoking one revokes it).
// A revoked agent gets nothing until reinstated; an audience other than this PDP's own is a
// decision of its own (`mintToken` on the Audience).

import type { Decision, ActionRequest } from '../core/types.js';
import { parseScope, ScopeError, widening } from '../core/token-scope.js';
import { TokenError, type TokenService } from './tokens.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export type ExchangeErrorCode =
  'invalid_request' | 'invalid_grant' | 'invalid_scope' | 'access_denied';

/** Errors in RFC 6749 §5.2 terms. */
export class ExchangeError extends Error {
  constructor(
    readonly code: ExchangeErrorCode,
    message: string,
    readonly decision?: Decision,
  ) {
    super(message);
  }
}

export interface ExchangeRequest {
  subjectToken: string;
  /** The agent that will hold the new token. */
  agent: string;
  /** Narrower scope; the parent's when absent. */
  scope?: string;
  ttlSeconds?: number;
  audience?: string;
}

export interface ExchangeResult {
  token: string;
  jti: string;
  expiresAt: number;
  scope: string;
  depth: number;
  decision: Decision;
}

export const DEFAULT_TTL_SECONDS = 600;

export async function exchangeToken(
  tokens: TokenService,
  decide: (r: ActionRequest) => Promise<Decision>,
  req: ExchangeRequest,
): Promise<ExchangeResult> {
  if (!req.agent) throw new ExchangeError('invalid_request', 'the target agent is required');
  let parent;
  try {
    parent = await tokens.verify(req.subjectToken);
  } catch (e) {
    throw new ExchangeError(
      'invalid_grant',
      `subject token rejected: ${(e as TokenError).message}`,
    );
  }
  if (tokens.agentRevoked(req.agent))
    throw new ExchangeError(
      'access_denied',
      `agent "${req.agent}" is revoked: nothing is delegated to it until it is reinstated`,
    );
  const scope = req.scope ?? parent.scopeText;
  try {
    const wider = widening(parent.scope, parseScope(scope));
    if (wider.length > 0) {
      throw new ExchangeError(
        'invalid_scope',
        `requested scope widens the parent token's: ${wider.map((i) => i.text).join(' ')} not within "${parent.scopeText}"`,
      );
    }
  } catch (e) {
    if (e instanceof ScopeError) throw new ExchangeError('invalid_scope', e.message);
    throw e;
  }
  // The hop is decided like any action: the parent token's actor delegating to the target.
  const decision = await decide({
    token: req.subjectToken,
    action: 'delegate',
    resource: { type: 'Agent', id: req.agent },
    pep: 'token-exchange',
  });
  if (decision.decision !== 'allow') {
    const why = [...new Set(decision.reasons.map((r) => r.message ?? r.policy))].join('; ');
    throw new ExchangeError(
      'access_denied',
      decision.decision === 'require_approval'
        ? `delegation to "${req.agent}" requires an approval: ${why}`
        : `delegation to "${req.agent}" denied: ${why}`,
      decision,
    );
  }
  // A token for another service is policy's call too: `mintToken` on that Audience.
  if (req.audience !== undefined && req.audience !== tokens.audience) {
    const minting = await decide({
      token: req.subjectToken,
      action: 'mintToken',
      resource: { type: 'Audience', id: req.audience },
      pep: 'token-exchange',
    });
    if (minting.decision !== 'allow') {
      const why = [...new Set(minting.reasons.map((r) => r.message ?? r.policy))].join('; ');
      throw new ExchangeError(
        'access_denied',
        `a token for audience "${req.audience}" is not permitted: ${why || 'no policy permits it'}`,
        minting,
      );
    }
  }
  const chain = [...parent.chain, req.agent];
  const issued = await tokens.issue({
    user: parent.user,
    chain,
    scope,
    ttlSeconds: req.ttlSeconds ?? DEFAULT_TTL_SECONDS,
    notAfter: parent.expiresAt,
    lineage: [...parent.lineage, parent.jti],
    ...(req.audience ? { audience: req.audience } : {}),
  });
  return { ...issued, scope, depth: chain.length, decision };
}
