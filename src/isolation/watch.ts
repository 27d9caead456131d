// How a gateway follows isolation changes (docs/mcp.md and docs/llm-gateway.md, "Isolation"):
// a change for a session's agent (and its user or session, when the state is narrowed to one)
// makes the MCP gateway tell the client its tool list changed; full isolation closes the MCP
// session, with its upstream servers, and ends the LLM gateway's calls in flight.

import { decodeJwt } from 'jose';
import type { IsolationChange } from './service.js';

/** What the gateway needs of the isolation service: to hear of changes. */
export interface IsolationWatch {
  onChange(listener: (c: IsolationChange) => void): () => void;
}

/**
 * The agent and user a session acts as: named, or read from its delegation token (the outermost
 * `act` is the acting agent). Only for matching changes: every decision still verifies the token.
 */
export function sessionPrincipal(identity: { agent?: string; user?: string; token?: string }): {
  agent?: string;
  user?: string;
} {
  if (!identity.token) return identity;
  try {
    const claims = decodeJwt(identity.token) as { sub?: unknown; act?: { sub?: unknown } };
    const agent = typeof claims.act?.sub === 'string' ? claims.act.sub : undefined;
    const user = typeof claims.sub === 'string' ? claims.sub : undefined;
    return { ...(agent ? { agent } : {}), ...(user ? { user } : {}) };
  } catch {
    return {}; // not a token: every decision of the session is refused anyway
  }
}

/** What a change means for one session: nothing, a changed tool list, or the end of it. */
export function changeFor(
  c: IsolationChange,
  principal: { agent?: string; user?: string },
  session: string,
): 'none' | 'relist' | 'close' {
  const s = c.state;
  if (!principal.agent || s.agent !== principal.agent) return 'none';
  if (s.user !== undefined && s.user !== principal.user) return 'none';
  if (s.session !== undefined && s.session !== session) return 'none';
  return c.kind === 'applied' && s.measures.full ? 'close' : 'relist';
}
