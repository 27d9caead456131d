// Who a guarded call is made as: what the guard names, else the client's defaults. A delegation
// token carries the agent and the user itself, so a token (the guard's or the default) is never
// mixed with names from elsewhere.

import type { ActionRequest } from '../core/types.js';

/** Who calls when a guard names nobody (each guard may name its own, or a token). */
export interface IdentityDefaults {
  agent?: string | undefined;
  user?: string | undefined;
  /** A delegation token: the agent and user are then the token's. */
  token?: string | undefined;
  session?: string | undefined;
}

/** Fills the identity a request does not carry from the defaults; the session likewise. */
export function withIdentity(request: ActionRequest, d: IdentityDefaults): ActionRequest {
  const session = !request.session && d.session ? { session: d.session } : {};
  if (request.token || request.agent || request.user) return { ...request, ...session };
  return {
    ...request,
    ...(d.token ? { token: d.token } : {}),
    ...(!d.token && d.agent ? { agent: d.agent } : {}),
    ...(!d.token && d.user ? { user: d.user } : {}),
    ...session,
  };
}
