// What the enforcement point answers, the same for the gRPC and the HTTP variant (they only
// encode it differently): allow with header mutations for the upstream, or a denial with the
// status, headers and JSON body the client gets. require_approval is a 403 whose body and
// x-cordon-approval-id name the approval request: never a 2xx, which a client (or a cache)
// could take for the request having happened.

import type { Decision } from '../../core/types.js';

export interface Verdict {
  allowed: boolean;
  /** The client's status when denied (Envoy's denied_response.status). */
  status: number;
  /** google.rpc.Code for the gRPC CheckResponse.status (0 OK). */
  grpcCode: number;
  message: string;
  /** Allowed: set (overwriting) on the request Envoy forwards upstream. */
  upstreamHeaders: Record<string, string>;
  /** Allowed: removed from the forwarded request (a client must not forge them). */
  removeHeaders: string[];
  /** To the client: with the denial, or added to the upstream's response when allowed. */
  clientHeaders: Record<string, string>;
  /** Denied: the JSON body the client gets. */
  body?: string;
}

export const DECISION_ID_HEADER = 'x-cordon-decision-id';
export const OBLIGATIONS_HEADER = 'x-cordon-obligations';
export const APPROVAL_ID_HEADER = 'x-cordon-approval-id';

/** google.rpc.Code values used here. */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** JSON that is safe in a header value: everything past ASCII escaped as \uXXXX. */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function denial(
  status: number,
  grpcCode: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Verdict {
  return {
    allowed: false,
    status,
    grpcCode,
    message:
      typeof body.error === 'string'
        ? body.error
        : ((body.reasons as { message?: string }[] | undefined)?.find((r) => r.message)?.message ??
          String(body.decision)),
    upstreamHeaders: {},
    removeHeaders: [],
    clientHeaders: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** A refusal made before any decision: malformed input, no route, an unauthenticated caller. */
export function refusal(status: 400 | 401 | 403 | 503, error: string): Verdict {
  const code =
    status === 400
      ? GrpcCode.INVALID_ARGUMENT
      : status === 401
        ? GrpcCode.UNAUTHENTICATED
        : status === 503
          ? GrpcCode.UNAVAILABLE
          : GrpcCode.PERMISSION_DENIED;
  return denial(status, code, { decision: 'deny', error });
}

/** Reasons that mean the caller proved no identity (401 rather than 403). */
const UNAUTHENTICATED = new Set(['cordon/invalid-token', 'cordon/token-unsupported']);

/**
 * The verdict for a decision. `identified`: the mapping found an agent or a token; without one
 * a denial is a 401 (with WWW-Authenticate when a bearer token would have been read).
 */
export function verdictOf(d: Decision, identified: boolean, bearer: boolean): Verdict {
  const id = { [DECISION_ID_HEADER]: d.decisionId };
  if (d.decision === 'allow') {
    const upstreamHeaders: Record<string, string> = { ...id };
    const removeHeaders: string[] = [APPROVAL_ID_HEADER];
    if (d.obligations.length > 0) upstreamHeaders[OBLIGATIONS_HEADER] = headerJson(d.obligations);
    else removeHeaders.push(OBLIGATIONS_HEADER);
    return {
      allowed: true,
      status: 200,
      grpcCode: GrpcCode.OK,
      message: 'allow',
      upstreamHeaders,
      removeHeaders,
      clientHeaders: { ...id },
    };
  }
  const reasons = d.reasons.map((r) => ({
    policy: r.policy,
    ...(r.message ? { message: r.message } : {}),
  }));
  const body = { decision: d.decision, decisionId: d.decisionId, reasons };
  if (d.decision === 'require_approval' && d.approval)
    return denial(
      403,
      GrpcCode.PERMISSION_DENIED,
      { ...body, approval: d.approval },
      { ...id, [APPROVAL_ID_HEADER]: d.approval.id },
    );
  const unauthenticated =
    !identified || d.reasons.some((r) => UNAUTHENTICATED.has(r.policy) && r.effect === 'forbid');
  if (unauthenticated)
    return denial(401, GrpcCode.UNAUTHENTICATED, body, {
      ...id,
      ...(bearer ? { 'www-authenticate': 'Bearer' } : {}),
    });
  return denial(403, GrpcCode.PERMISSION_DENIED, body, id);
}
