// guard(): wraps a tool function so every call is decided by Cordon first. The call's arguments
// become context.input; a deny never runs the function; require_approval waits for a human's
// answer or refuses, as configured; an allow runs it and applies the decision's redaction
// obligations to what it returns before the caller sees it. When policies decide tool results
// (the allow carries `resultAction`, readToolResult), the result's texts are decided as the MCP
// gateway decides a tool result: a refusal withholds it, an allow's redactions are applied.
// Any failure to decide refuses (fail closed): the function is never called when the decision
// point cannot answer, and its result is withheld when the decision about it cannot be made.
//
// The decider is either the engine in this process (sdk/embedded.ts) or a `cordon serve` over
// HTTP (sdk/remote.ts); both implement Decider. Framework adapters (sdk/adapters/) build on this.

import type { ActionRequest, Decision, Outcome, Reason, ResourceRef } from '../core/types.js';
import { detectionView } from '../inspect/detection-view.js';
import { redactResult, resultTexts } from './redact-result.js';

/** What guard() needs of a decision point: `decide`, and optionally the rest. */
export interface Decider {
  decide(request: ActionRequest): Promise<Decision>;
  /**
   * Waits until approval request `id` is answered, or `timeoutMs` pass. When it returns a
   * decision (it asked again itself), that is the answer; otherwise guard decides the same
   * request again (an approved grant makes it an allow and is used up by it). Without this
   * method, `approval.wait` cannot wait: a require_approval is refused at once.
   */
  awaitApproval?(
    id: string,
    timeoutMs: number,
    request: ActionRequest,
  ): Promise<Decision | undefined | void>;
  /**
   * Records that a function allowed by `decision` threw (an audit event whose parent is the
   * decision). Best effort: a failure to record is the decider's to report, never the caller's.
   */
  recordFailure?(request: ActionRequest, decision: Decision, error: unknown): Promise<void>;
}

export interface GuardOptions<Args extends unknown[]> {
  /** The Cedar action, e.g. 'invokeTool'. */
  action: string;
  /** The resource, fixed or derived from the call's arguments. */
  resource: ResourceRef | ((...args: Args) => ResourceRef);
  /** Identity; when absent, the decider's defaults (sdk/embedded.ts, sdk/remote.ts). */
  agent?: string;
  user?: string;
  /** A delegation token: the agent and user are then the token's (docs/identity.md). */
  token?: string;
  session?: string;
  /** context.input from the arguments; default: the first argument. */
  input?: (...args: Args) => unknown;
  /** require_approval: wait for the answer (up to timeoutMs, default 60 s) or throw at once. */
  approval?: { wait: boolean; timeoutMs?: number };
  /** Extra caller context keys for Cedar (never the keys only Cordon sets). */
  context?: Record<string, unknown> | ((...args: Args) => Record<string, unknown>);
  /** The decision this call follows from (the execution graph in the audit log). */
  parent?: string;
}

export type CordonErrorCode = 'CORDON_DENIED' | 'CORDON_APPROVAL_REQUIRED' | 'CORDON_UNAVAILABLE';

/**
 * Why a guarded call did not run (or its result was withheld). `code` says which:
 * CORDON_DENIED (a policy refused; `reasons` say which), CORDON_APPROVAL_REQUIRED (a human must
 * approve, and the guard was not told to wait, or the wait ended unanswered) and
 * CORDON_UNAVAILABLE (the decision point could not answer: down, slow, or broken).
 */
export class CordonDeniedError extends Error {
  override readonly name = 'CordonDeniedError';
  readonly code: CordonErrorCode;
  /** The outcome as decided; `deny` when no decision was made (unavailable). */
  readonly outcome: Outcome;
  readonly decisionId?: string;
  readonly reasons: Reason[];
  /** require_approval: the approval request a human answers (`cordon approval approve ID`). */
  readonly approvalId?: string;

  constructor(
    code: CordonErrorCode,
    message: string,
    o: {
      outcome?: Outcome;
      decisionId?: string | undefined;
      reasons?: Reason[];
      approvalId?: string | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(message, o.cause !== undefined ? { cause: o.cause } : undefined);
    this.code = code;
    this.outcome = o.outcome ?? 'deny';
    if (o.decisionId !== undefined) this.decisionId = o.decisionId;
    this.reasons = o.reasons ?? [];
    if (o.approvalId !== undefined) this.approvalId = o.approvalId;
  }
}

/** A reason of Cordon's own (no policy): why the SDK refused without or after a decision. */
export function sdkReason(policy: string, message: string): Reason {
  return { policy: `cordon/${policy}`, effect: 'forbid', annotations: {}, message };
}

const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000;

/** Says why, in one line: the policies and their messages. */
function why(d: Decision): string {
  const parts = d.reasons.map((r) => (r.message ? `${r.policy} (${r.message})` : r.policy));
  return parts.length > 0 ? parts.join(', ') : 'no policy permits it';
}

function refusal(d: Decision, label: string): CordonDeniedError {
  const common = {
    outcome: d.decision,
    decisionId: d.decisionId,
    reasons: d.reasons,
    approvalId: d.approval?.status === 'pending' ? d.approval.id : undefined,
  };
  if (d.decision === 'require_approval')
    return new CordonDeniedError(
      'CORDON_APPROVAL_REQUIRED',
      `Cordon: ${label} needs a human's approval${d.approval ? ` (approval ${d.approval.id})` : ''}: ${why(d)}`,
      common,
    );
  return new CordonDeniedError(
    'CORDON_DENIED',
    `Cordon denied ${label} (decision ${d.decisionId}): ${why(d)}`,
    common,
  );
}

/** Asks the decider; anything but an answer becomes CORDON_UNAVAILABLE. */
async function ask(
  decider: Decider,
  request: ActionRequest,
  label: string,
  consequence = 'so it was not run',
): Promise<Decision> {
  try {
    return await decider.decide(request);
  } catch (e) {
    if (e instanceof CordonDeniedError) throw e;
    const message = (e as Error)?.message ?? String(e);
    throw new CordonDeniedError(
      'CORDON_UNAVAILABLE',
      `Cordon could not decide ${label}, ${consequence}: ${message}`,
      { reasons: [sdkReason('unavailable', message)], cause: e },
    );
  }
}

/**
 * The request for one call, built from the options and the arguments. (Assignments, not
 * conditional spreads: this runs on every call, and the spreads cost a microsecond.)
 */
export function guardRequest<Args extends unknown[]>(
  options: GuardOptions<Args>,
  args: Args,
): ActionRequest {
  const resource =
    typeof options.resource === 'function' ? options.resource(...args) : options.resource;
  const r: ActionRequest = { action: options.action, resource, pep: 'sdk' };
  if (options.agent !== undefined) r.agent = options.agent;
  if (options.user !== undefined) r.user = options.user;
  if (options.token !== undefined) r.token = options.token;
  if (options.session !== undefined) r.session = options.session;
  const input = jsonInput(options.input ? options.input(...args) : args[0]);
  if (input !== undefined) r.input = input;
  const context =
    typeof options.context === 'function' ? options.context(...args) : options.context;
  if (context !== undefined) r.context = context;
  if (options.parent !== undefined) r.parent = options.parent;
  return r;
}

/**
 * The arguments as the decision and its record see them: JSON (what Cedar and the audit log
 * hold). A function or a symbol is left out as JSON.stringify leaves it; a cycle or a BigInt
 * cannot be expressed, and the call is refused rather than decided on something else.
 */
function jsonInput(input: unknown): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (e) {
    throw new CordonDeniedError(
      'CORDON_DENIED',
      `Cordon refused the call: its input cannot be expressed as JSON (${(e as Error).message})`,
      { reasons: [sdkReason('bad-input', (e as Error).message)] },
    );
  }
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * Wraps `fn`: each call is decided first (pep "sdk", the arguments as context.input) and runs
 * only when allowed. Throws CordonDeniedError when refused; what `fn` throws is rethrown as is
 * (and recorded as a failure of the allowed call when the decider can record it).
 */
export function guard<Args extends unknown[], R>(
  decider: Decider,
  fn: (...args: Args) => R | Promise<R>,
  options: GuardOptions<Args>,
): (...args: Args) => Promise<R> {
  return async function guarded(this: unknown, ...args: Args): Promise<R> {
    const request = guardRequest(options, args);
    const name = `${request.action} on ${request.resource.type}::"${request.resource.id}"`;
    let d = await ask(decider, request, name);
    if (d.decision === 'require_approval' && options.approval?.wait && d.approval) {
      if (!decider.awaitApproval) throw refusal(d, name);
      const timeoutMs = options.approval.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
      let answered: Decision | undefined | void;
      try {
        answered = await decider.awaitApproval(d.approval.id, timeoutMs, request);
      } catch (e) {
        const message = (e as Error)?.message ?? String(e);
        throw new CordonDeniedError(
          'CORDON_UNAVAILABLE',
          `Cordon could not wait for approval ${d.approval.id} of ${name}: ${message}`,
          {
            outcome: 'require_approval',
            decisionId: d.decisionId,
            reasons: d.reasons,
            approvalId: d.approval.id,
            cause: e,
          },
        );
      }
      // Decided again: an approval is bound to this exact request and used up by this decision.
      d = answered ?? (await ask(decider, request, name));
    }
    if (d.decision !== 'allow') throw refusal(d, name);
    let result: R;
    try {
      result = await fn.apply(this, args);
    } catch (e) {
      if (decider.recordFailure) await decider.recordFailure(request, d, e).catch(() => {});
      throw e;
    }
    const redacted = (await applyRedactions(result, d, name)) as R;
    return d.resultAction
      ? ((await decideResult(decider, request, d, redacted, name)) as R)
      : redacted;
  };
}

/** `result` with the redaction obligations of `d` applied; withheld when they cannot be. */
async function applyRedactions(result: unknown, d: Decision, name: string): Promise<unknown> {
  if (!d.obligations.some((o) => o.type === 'redact')) return result;
  try {
    return await redactResult(result, d.obligations);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    throw new CordonDeniedError(
      'CORDON_DENIED',
      `Cordon withheld the result of ${name} (decision ${d.decisionId}): it must be redacted and ${message}`,
      {
        decisionId: d.decisionId,
        reasons: [sdkReason('redaction-failed', message)],
        cause: e,
      },
    );
  }
}

/**
 * The result decided as `allowed.resultAction` (readToolResult), as the MCP gateway decides a
 * tool result: the same identity, session, input and resource, the result's texts as content
 * (so content findings, injection included, reach Cedar), the call's decision as parent. A
 * refusal withholds it; an allow's redaction obligations are applied to it.
 */
async function decideResult(
  decider: Decider,
  call: ActionRequest,
  allowed: Decision,
  result: unknown,
  name: string,
): Promise<unknown> {
  const label = `the result of ${name}`;
  let texts: string[];
  try {
    texts = await resultTexts(result);
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    throw new CordonDeniedError(
      'CORDON_DENIED',
      `Cordon withheld ${label} (decision ${allowed.decisionId}): policies decide tool results and ${message}`,
      { decisionId: allowed.decisionId, reasons: [sdkReason('result-uninspectable', message)] },
    );
  }
  const request: ActionRequest = {
    action: allowed.resultAction!,
    resource: call.resource,
    pep: call.pep ?? 'sdk',
    content: detectionView(
      texts,
      texts.map(() => true),
    ).text,
    parent: allowed.decisionId,
  };
  if (call.agent !== undefined) request.agent = call.agent;
  if (call.user !== undefined) request.user = call.user;
  if (call.token !== undefined) request.token = call.token;
  if (call.session !== undefined) request.session = call.session;
  if (call.input !== undefined) request.input = call.input;
  const d = await ask(decider, request, label, 'so it was withheld');
  if (d.decision !== 'allow') throw refusal(d, label);
  return applyRedactions(result, d, name);
}
