// What an approval request is, and the store it lives in. The embedded store is SQLite in the
// data directory; the scale-out work puts PostgreSQL or Redis behind the same interface.

import type { ApprovalGrant, ApprovalGrants } from '../core/stages/approval.js';
import type { ActionRequest, Reason } from '../core/types.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

export interface Approval {
  id: string;
  status: ApprovalStatus;
  /** `sha256:` of what the approval covers (see approvalBinding). */
  binding: string;
  agent: string;
  user?: string;
  session?: string;
  /** What the agent asked to do: the approver must see exactly what they approve. */
  request: Pick<ActionRequest, 'action' | 'resource' | 'input' | 'context'>;
  /** The decision that asked for the approval, and the policies that gated it. */
  decisionId: string;
  policyVersion: string;
  reasons: Reason[];
  createdAt: string;
  /** A pending request expires unanswered at this time. */
  expiresAt: string;
  approver?: string;
  note?: string;
  decidedAt?: string;
  /** An approval can be used until this time … */
  grantExpiresAt?: string;
  /** … this many more times. */
  usesLeft?: number;
}

export type NewApproval = Omit<
  Approval,
  'status' | 'approver' | 'note' | 'decidedAt' | 'grantExpiresAt' | 'usesLeft'
>;

export interface Settlement {
  verdict: 'approved' | 'denied';
  approver: string;
  note?: string;
  at: Date;
  /** For approvals: how long and how many times it may be used. */
  grantExpiresAt?: Date;
  uses?: number;
}

export interface ApprovalStore extends ApprovalGrants {
  create(a: NewApproval): Promise<void>;
  get(id: string, now: Date): Promise<Approval | undefined>;
  list(filter: { status?: ApprovalStatus; limit: number }, now: Date): Promise<Approval[]>;
  /** The newest request with this binding that is pending or was denied (retries join it). */
  latestFor(binding: string, now: Date): Promise<Approval | undefined>;
  /**
   * The request a retry of `a` joins: the newest with its binding that is pending and unexpired,
   * or denied less than `deniedForMs` ago; else `a`, stored as pending. Atomic: concurrent
   * retries (on several nodes too) open one request, never one each.
   */
  openOrJoin(a: NewApproval, now: Date, deniedForMs: number): Promise<Approval>;
  /** Answers a pending, unexpired request; false when it was not (any more) pending. */
  settle(id: string, s: Settlement): Promise<boolean>;
  /** Takes one use of a grant; false when it is used up, expired or not approved. */
  consume(id: string, now: Date): Promise<boolean>;
  close(): void;
}

export type { ApprovalGrant };
