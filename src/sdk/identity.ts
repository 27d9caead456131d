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
  const named = request.token || request.agent || request.user;
  const session = !request.session && d.session;
  if (named && !session) return request; // the common case: nothing to copy
  const r = { ...request };
  if (session) r.session = d.session;
  if (named) return r;
  if (d.token) r.token = d.token;
  else {
    if (d.agent) r.agent = d.agent;
    if (d.user) r.user = d.user;
  }
  return r;
}
