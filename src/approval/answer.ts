// A human answers an approval request. The approver is a listed User acting in person, and
// policy decides whether they may: action `approve` on the `ApprovalRequest` (which carries the
// agent, the user, the action and its target). The check is itself an audited decision.

import type { StandInUser } from '../core/stages/identity.js';
import type { Decision } from '../core/types.js';
import type { DecisionService } from '../decision/service.js';
import type { Approval } from './approval.js';
import { ApprovalError, type ApprovalService } from './service.js';

export interface ApprovalAnswer {
  id: string;
  verdict: 'approved' | 'denied';
  /** The approver's user id, as authenticated by the caller (see docs/approvals.md). */
  approver: string;
  /** Set when the approver is the local admin, whom entities.json need not list. */
  standIn?: StandInUser;
  note?: string;
  /** How many retries the approval covers (default 1). */
  uses?: number;
  /** Which way the approver reached Cordon (http, cli, elicitation), for the record. */
  via: string;
}

/** The `ApprovalRequest` entity policies see as `resource`. */
function approvalEntityAttrs(a: Approval): Record<string, unknown> {
  const attrs: Record<string, unknown> = {
    agent: { __entity: { type: 'Agent', id: a.agent } },
    action: a.request.action,
    targetType: a.request.resource.type,
    targetId: a.request.resource.id,
    policies: [...new Set(a.reasons.map((r) => r.policy))],
  };
  if (a.user !== undefined) attrs.user = { __entity: { type: 'User', id: a.user } };
  return attrs;
}

export async function answerApproval(
  decisions: DecisionService,
  approvals: ApprovalService,
  answer: ApprovalAnswer,
): Promise<{ approval: Approval; decision: Decision }> {
  const approval = await approvals.get(answer.id);
  if (!approval) throw new ApprovalError(404, `no approval request ${answer.id}`);
  if (approval.status !== 'pending')
    throw new ApprovalError(
      409,
      `approval request ${answer.id} is ${approval.status}, not pending`,
    );
  const decision = await decisions.decideHuman(
    {
      user: answer.approver,
      action: 'approve',
      resource: { type: 'ApprovalRequest', id: approval.id, attrs: approvalEntityAttrs(approval) },
      input: { verdict: answer.verdict, ...(answer.note ? { note: answer.note } : {}) },
      pep: `approvals:${answer.via}`,
      parent: approval.decisionId,
    },
    answer.standIn,
  );
  if (decision.decision !== 'allow') {
    const why = decision.reasons.map((r) => r.message ?? r.policy).join('; ');
    throw new ApprovalError(403, `${answer.approver} may not answer this approval request: ${why}`);
  }
  const settled = await approvals.settle(answer.id, {
    verdict: answer.verdict,
    approver: answer.approver,
    ...(answer.note !== undefined ? { note: answer.note } : {}),
    ...(answer.uses !== undefined ? { uses: answer.uses } : {}),
  });
  return { approval: settled, decision };
}
