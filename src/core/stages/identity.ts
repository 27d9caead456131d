// Identity: who acts (the agent) and for whom (the user), both looked up in the entity store.
// An unknown principal is denied; a delegation token is refused until token verification exists.

import { cordonReason } from '../evaluate.js';
import type { DecisionState, Stage } from '../pipeline.js';

export const identityStage: Stage = {
  name: 'identity',
  run(s: DecisionState) {
    const { request, set } = s;
    if (request.token !== undefined) {
      s.denial = cordonReason(
        'token-unsupported',
        undefined,
        'delegation tokens are not accepted by this Cordon version; send agent and user',
      );
      return;
    }
    const agent = request.agent ?? '';
    const agentEntity = set.store.get('Agent', agent);
    if (!agentEntity) {
      s.denial = cordonReason(
        'unknown-principal',
        'agent',
        `agent "${agent}" is not listed in entities.json`,
      );
      return;
    }
    s.agent = agentEntity;
    if (request.user !== undefined) {
      const userEntity = set.store.get('User', request.user);
      if (!userEntity) {
        s.denial = cordonReason(
          'unknown-principal',
          'user',
          `user "${request.user}" is not listed in entities.json`,
        );
        return;
      }
      s.user = userEntity;
    }
    s.facts.delegation = {
      depth: 1,
      chain: [agent],
      user: request.user ?? '',
    };
  },
};
