// Identity: who acts (the agent) and for whom (the user). From the request's agent/user, or
// from a delegation token, which is verified through the TokenVerifier port and then sets
// both, the delegation chain, and a scope ceiling the request must fit under.

import type { SlicedEntity } from '../entities.js';
import { cordonReason } from '../evaluate.js';
import type { DecisionState, Stage } from '../pipeline.js';
import { scopeAllows, type ScopeItem } from '../token-scope.js';
import type { PrincipalRole } from '../types.js';

/** What a verified delegation token establishes. */
export interface VerifiedDelegation {
  user: string;
  /** The current actor: the last agent of the chain. */
  agent: string;
  /** Agents from the originating side to the current actor. */
  chain: string[];
  depth: number;
  scope: ScopeItem[];
  scopeText: string;
  jti: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** When it was issued, seconds since the epoch (the risk engine's token age). */
  issuedAt?: number;
  audience: string;
}

/** Verifies delegation tokens (signature, expiry, audience, revocation); throws with the reason. */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedDelegation>;
}

const ENTITY_TYPE: Record<PrincipalRole, string> = { agent: 'Agent', user: 'User' };

/** The listed principal, or undefined after recording a denial that names it. */
function principal(s: DecisionState, role: PrincipalRole, id: string): SlicedEntity | undefined {
  const entity = s.set.store.get(ENTITY_TYPE[role], id);
  if (!entity) {
    s.denial = cordonReason(
      'unknown-principal',
      role,
      `${role} "${id}" is not listed in entities.json`,
    );
  }
  return entity;
}

async function fromToken(
  s: DecisionState,
  tokens: TokenVerifier | undefined,
  token: string,
): Promise<void> {
  const { request } = s;
  if (!tokens) {
    s.denial = cordonReason(
      'token-unsupported',
      undefined,
      'this PDP has no token verifier configured',
    );
    return;
  }
  let v: VerifiedDelegation;
  try {
    v = await tokens.verify(token);
  } catch (e) {
    s.denial = cordonReason(
      'invalid-token',
      undefined,
      `delegation token rejected: ${(e as Error).message}`,
    );
    return;
  }
  const conflicts = [
    request.agent !== undefined && request.agent !== v.agent
      ? `agent "${request.agent}" (the token's actor is "${v.agent}")`
      : '',
    request.user !== undefined && request.user !== v.user
      ? `user "${request.user}" (the token's user is "${v.user}")`
      : '',
  ].filter(Boolean);
  if (conflicts.length > 0) {
    s.denial = cordonReason(
      'identity-conflict',
      undefined,
      `the request names ${conflicts.join(' and ')}`,
    );
    return;
  }
  s.token = v;
  s.agent = principal(s, 'agent', v.agent);
  if (!s.agent) return;
  s.user = principal(s, 'user', v.user);
  if (!s.user) return;
  s.facts.delegation = { depth: v.depth, chain: v.chain, user: v.user };
  if (!scopeAllows(v.scope, request.action, request.resource)) {
    s.denial = cordonReason(
      'scope-exceeded',
      undefined,
      `the token's scope "${v.scopeText}" does not cover ${request.action} on ${request.resource.type}::"${request.resource.id}"`,
    );
  }
}

export function identityStage(tokens?: TokenVerifier): Stage {
  return {
    name: 'identity',
    async run(s: DecisionState) {
      const { request } = s;
      if (request.token !== undefined) return fromToken(s, tokens, request.token);
      const agentId = request.agent ?? '';
      s.agent = principal(s, 'agent', agentId);
      if (!s.agent) return;
      if (request.user !== undefined) {
        s.user = principal(s, 'user', request.user);
        if (!s.user) return;
      }
      // Without a token, the agent acts directly: a chain of one.
      s.facts.delegation = { depth: 1, chain: [agentId], user: request.user ?? '' };
    },
  };
}

/** A listed user acting in person (an approver): no agent, no delegation chain. */
/**
 * A user Cordon itself vouches for that entities.json need not list: the local admin, who holds
 * the credential in the data directory. A listed user of the same id wins (it is authoritative).
 */
export interface StandInUser {
  id: string;
  parents: { type: string; id: string }[];
}

/**
 * The local admin: the holder of the admin credential in the data directory. People cannot be
 * it: the API refuses an identity provider token naming this user.
 */
export const LOCAL_ADMIN: StandInUser = {
  id: 'cordon-admin',
  parents: [{ type: 'Role', id: 'cordon-admin' }],
};

export function directUserStage(standIn?: StandInUser): Stage {
  return {
    name: 'identity',
    run(s: DecisionState) {
      const id = s.request.user ?? '';
      s.user =
        standIn?.id === id && !s.set.store.get('User', id)
          ? {
              uid: { type: 'User', id },
              attrs: {},
              parents: s.set.store.ancestorsOf(standIn.parents),
            }
          : principal(s, 'user', id);
      if (s.user) s.facts.delegation = { depth: 0, chain: [], user: id };
    },
  };
}
