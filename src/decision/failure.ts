// The audit event of an allowed action that then failed (an SDK-guarded function that threw):
// kind "failure", parent: the decision that allowed it, the error's class and code in
// context.failure. Not the message: messages often quote the input, which the log keeps only
// where audit.recordInput says so. Replay skips events. Used by the embedded SDK decider and by
// the HTTP route remote SDK clients report through (pep/http/failure-routes.ts).

import { v7 as uuidv7 } from 'uuid';
import type { DecisionTrace } from '../core/engine.js';
import { initialFacts } from '../core/pipeline.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { ActionRequest, Decision } from '../core/types.js';

/** What is recorded of the error: its class (`name`) and `code`, each at most 128 characters. */
export interface FailureFacts {
  error: string;
  code?: string;
}

/** The class and code of anything thrown. */
export function failureFacts(error: unknown): FailureFacts {
  const name = (error instanceof Error ? error.name : typeof error).slice(0, 128);
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' || typeof raw === 'number' ? String(raw).slice(0, 128) : '';
  return code ? { error: name, code } : { error: name };
}

export function failureTrace(
  set: CompiledPolicySet,
  request: ActionRequest,
  decision: Pick<Decision, 'decision' | 'decisionId' | 'policyVersion' | 'risk'>,
  failure: FailureFacts,
): DecisionTrace {
  const { input: _input, content: _content, ...rest } = request;
  return {
    kind: 'failure',
    time: new Date(),
    set,
    ...(request.agent ? { agent: request.agent } : {}),
    ...(request.user ? { user: request.user } : {}),
    labels: [],
    destructive: false,
    facts: initialFacts(request.session),
    request: {
      ...rest,
      parent: decision.decisionId,
      context: { ...rest.context, failure: { ...failure } },
    },
    decision: {
      decision: decision.decision,
      reasons: [
        {
          policy: 'cordon/call-failed',
          effect: 'permit',
          annotations: {},
          message: `the allowed call threw ${failure.error}${failure.code ? ` (${failure.code})` : ''}`,
        },
      ],
      obligations: [],
      risk: decision.risk,
      policyVersion: decision.policyVersion,
      decisionId: uuidv7(),
    },
  };
}
