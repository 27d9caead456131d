// Identity: who acts (the agent) and for whom (the user), both looked up in the entity store.
// An unknown principal is denied; a delegation token is refused until token verification exists.

import type { SlicedEntity } from '../entities.js';
import { cordonReason } from '../evaluate.js';
import type { DecisionState, Stage } from '../pipeline.js';
import type { PrincipalRole } from '../types.js';

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

export const identityStage: Stage = {
  name: 'identity',
  run(s: DecisionState) {
    const { request } = s;
    if (request.token !== undefined) {
      s.denial = cordonReason(
        'token-unsupported',
        undefined,
        'delegation tokens are not accepted by this Cordon version; send agent and user',
      );
      return;
    }
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
