// Reading the audit log for the console: one line per record (DecisionSummary), the filters the
// decisions page offers, and paging backwards from a position. Records are read as stored, so
// the console shows exactly what the log holds (input and prompts only where configured).

import { z } from 'zod';
import type { AuditRecord } from '../../../audit/record.js';
import type { AuditReader, StoredRecord } from '../../../store/audit-port.js';

export interface DecisionSummary {
  seq: number;
  id: string;
  time: string;
  kind?: string;
  pep: string;
  agent?: string;
  user?: string;
  session?: string;
  parent?: string;
  action: string;
  resource: { type: string; id: string };
  decision: string;
  policies: string[];
  risk?: { score: number; level: string };
  approval?: { id: string; status: string };
  obligations: string[];
}

export function summarize(rec: AuditRecord): DecisionSummary {
  const s: DecisionSummary = {
    seq: rec.seq,
    id: rec.id,
    time: rec.time,
    pep: rec.pep,
    action: rec.action,
    resource: { type: rec.resource.type, id: rec.resource.id },
    decision: rec.decision,
    policies: [...new Set(rec.reasons.map((r) => r.policy))],
    obligations: rec.obligations.map((o) => o.type),
  };
  if (rec.kind) s.kind = rec.kind;
  if (rec.agent !== undefined) s.agent = rec.agent;
  if (rec.user !== undefined) s.user = rec.user;
  if (rec.session !== undefined) s.session = rec.session;
  if (rec.parent !== undefined) s.parent = rec.parent;
  const risk = rec.facts?.risk;
  if (risk && typeof risk.score === 'number') s.risk = { score: risk.score, level: risk.level };
  if (rec.approval) s.approval = { id: rec.approval.id, status: rec.approval.status };
  return s;
}

export const filterFields = {
  agent: z.string().min(1).max(512).optional(),
  user: z.string().min(1).max(512).optional(),
  action: z.string().min(1).max(512).optional(),
  outcome: z.enum(['allow', 'deny', 'require_approval']).optional(),
  policy: z.string().min(1).max(512).optional(),
  kind: z.enum(['decision', 'usage', 'launch', 'isolation', 'all']).default('decision'),
};
export const filterSchema = z.strictObject(filterFields);
export type RecordFilter = z.infer<typeof filterSchema>;

export function matches(rec: AuditRecord, f: RecordFilter): boolean {
  if (f.kind !== 'all' && (rec.kind ?? 'decision') !== f.kind) return false;
  if (f.agent !== undefined && rec.agent !== f.agent) return false;
  if (f.user !== undefined && rec.user !== f.user) return false;
  if (f.action !== undefined && rec.action !== f.action) return false;
  if (f.outcome !== undefined && rec.decision !== f.outcome) return false;
  if (f.policy !== undefined && !rec.reasons.some((r) => r.policy === f.policy)) return false;
  return true;
}

export const parseRecord = (row: StoredRecord) => JSON.parse(row.record) as AuditRecord;

/** The position of the newest record, or -1 for an empty log. */
export async function newestSeq(store: AuditReader): Promise<number> {
  const [last] = await store.tail(1);
  return last ? last.seq : -1;
}

const PAGE = 500;

/**
 * Matching records before position `before` (exclusive), newest first: at most `limit` of them,
 * looking at no more than `maxScan` records. `next` is where to continue (null: the start).
 * Positions are leaf indexes, dense from 0, so a page is a range query.
 */
export async function scanBack(
  store: AuditReader,
  f: RecordFilter,
  before: number,
  limit: number,
  maxScan: number,
): Promise<{ records: AuditRecord[]; next: number | null }> {
  const out: AuditRecord[] = [];
  let hi = before;
  while (hi > 0 && out.length < limit && before - hi < maxScan) {
    const lo = Math.max(0, hi - PAGE);
    const rows = await store.query({ after: lo - 1, limit: hi - lo });
    for (let i = rows.length - 1; i >= 0 && out.length < limit; i--) {
      const row = rows[i]!;
      if (row.seq >= hi) continue;
      const rec = parseRecord(row);
      hi = row.seq;
      if (matches(rec, f)) out.push(rec);
    }
    if (out.length < limit) hi = lo;
  }
  return { records: out, next: hi > 0 ? hi : null };
}
