// What an isolation does beyond the decision path, once, on the node that applied it: the
// agent's delegation tokens are revoked (noDelegation or full), so a token it already holds
// stops working with the next request anywhere.

import type { IsolationActuator } from './service.js';

/** The part of the revocation store an isolation uses. */
export interface AgentTokenRevoker {
  agentRevoked(agent: string): boolean | Promise<boolean>;
  revokeAgent(agent: string): void | Promise<void>;
  reinstateAgent(agent: string): boolean | Promise<boolean>;
}

/**
 * Revokes every delegation token issued to (or through) the agent until now. The revocation is
 * lifted at once, so tokens issued before it stay revoked while the agent can be delegated to
 * again after its release (token exchange is refused by the isolation meanwhile). An agent an
 * operator had revoked already is left as it is.
 */
export function revokeDelegationTokens(revocations: AgentTokenRevoker): IsolationActuator {
  return async (c) => {
    const m = c.state.measures;
    if (c.kind !== 'applied' || !(m.noDelegation || m.full)) return;
    const agent = c.state.agent;
    if (await revocations.agentRevoked(agent)) return;
    await revocations.revokeAgent(agent);
    await revocations.reinstateAgent(agent);
  };
}
