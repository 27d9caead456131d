// context.isolation: the isolation states in force for the acting agent (agent-wide, for this
// user, for this session), merged. The engine refuses what falls under their measures
// (core/isolation.ts); policies may read the facts too. A delegation to an agent that may not be
// delegated to (noDelegation or full) is refused here, since the facts describe the delegator.

import { isolationReason, mergeIsolation, type IsolationLookup } from '../isolation.js';
import type { DecisionState, Stage } from '../pipeline.js';

export function isolationStage(lookup: IsolationLookup): Stage {
  return {
    name: 'isolation',
    run(s: DecisionState) {
      const agent = s.agent?.uid.id;
      if (!agent) return;
      const user = s.user?.uid.id;
      const facts = mergeIsolation(lookup.statesFor(agent, user, s.request.session, s.now));
      if (facts) s.facts.isolation = facts;
      const { action, resource } = s.request;
      if (action !== 'delegate' || resource.type !== 'Agent') return;
      const target = mergeIsolation(lookup.statesFor(resource.id, user, undefined, s.now));
      if (target?.noDelegation)
        s.denial = isolationReason(
          target,
          'nothing is delegated to it',
          `delegation target agent "${resource.id}"`,
        );
    },
  };
}
