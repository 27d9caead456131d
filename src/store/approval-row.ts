// An approval as both SQL backends store it (one row: the request as JSON, the answer in columns)
// and how a row reads back: expiry is computed at read, never stored, so every backend and node
// agrees on it at the same time.

import type { Approval, ApprovalStatus, NewApproval } from '../approval/approval.js';

export interface ApprovalRow {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'used';
  body: string;
  expires_at: number;
  approver: string | null;
  note: string | null;
  decided_at: number | null;
  grant_expires_at: number | null;
  uses_left: number | null;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** Whether a retry joins `last` (see ApprovalStore.openOrJoin) rather than opening a request. */
export function joins(last: Approval | undefined, now: Date, deniedForMs: number): boolean {
  if (last?.status === 'pending') return true;
  return (
    last?.status === 'denied' && Date.parse(last.decidedAt ?? '') + deniedForMs > now.getTime()
  );
}

/** A request as it reads once stored, before anyone answers it. */
export const pending = (a: NewApproval): Approval => ({ ...a, status: 'pending' });

export function toApproval(r: ApprovalRow, now: number): Approval {
  const body = JSON.parse(r.body) as NewApproval;
  let status: ApprovalStatus = r.status;
  if (status === 'pending' && r.expires_at <= now) status = 'expired';
  if (status === 'approved' && (r.grant_expires_at ?? 0) <= now) status = 'expired';
  const a: Approval = { ...body, status };
  if (r.approver !== null) a.approver = r.approver;
  if (r.note !== null) a.note = r.note;
  if (r.decided_at !== null) a.decidedAt = iso(r.decided_at);
  if (r.grant_expires_at !== null) a.grantExpiresAt = iso(r.grant_expires_at);
  if (r.uses_left !== null) a.usesLeft = r.uses_left;
  return a;
}
