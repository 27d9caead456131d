// Approvals: a human's yes is bound to one exact action in one session. The binding is a digest
// of the resolved agent and user, the session, the action, the resource as the PEP named it, the
// input, the content and the caller's context, so an approval never authorizes different
// arguments, nor the same call in another session (a session is one task a person watches). This stage finds a usable grant
// for the request and sets `context.approval`; the decision service then claims it atomically.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { DecisionState, Stage } from '../pipeline.js';
import type { ActionRequest } from '../types.js';

/** An approval given by a human and still usable (not expired, uses left). */
export interface ApprovalGrant {
  id: string;
  /** The approver's user id. */
  by: string;
  /** When it was given (ISO 8601). */
  at: string;
}

/** Where the approval stage finds grants (the approval store). */
export interface ApprovalGrants {
  /** False when no approval is usable at all: most decisions then skip the lookup. */
  mayHaveGrants(): boolean;
  findGrant(binding: string, now: Date): Promise<ApprovalGrant | undefined>;
}

export interface BindingSubject {
  agent: string;
  user?: string | undefined;
  request: Pick<ActionRequest, 'session' | 'action' | 'resource' | 'input' | 'context' | 'content'>;
}

/** `sha256:` over the canonical JSON (RFC 8785) of exactly what the approval covers. */
export function approvalBinding(s: BindingSubject): string {
  const { session, action, resource, input, context, content } = s.request;
  const text = canonicalJson({
    agent: s.agent,
    user: s.user ?? null,
    session: session ?? null,
    action,
    resource,
    input: input ?? null,
    context: context ?? null,
    content: content ?? null, // a prompt approved is not another prompt approved
  });
  if (text === undefined) throw new Error('the request has no JSON form');
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function approvalStage(grants: ApprovalGrants): Stage {
  return {
    name: 'approval',
    async run(s: DecisionState) {
      if (!s.agent || !grants.mayHaveGrants()) return;
      const binding = approvalBinding({
        agent: s.agent.uid.id,
        user: s.user?.uid.id,
        request: s.request,
      });
      const grant = await grants.findGrant(binding, s.now);
      if (!grant) return;
      s.approvalGrant = grant;
      s.facts.approval = { granted: true, by: grant.by };
    },
  };
}
