// Approval requests in PostgreSQL, shared by every node: a request created through one node is
// answered and used through another. Answering and using are single conditional UPDATEs (the
// second of two concurrent ones re-reads the row and matches nothing), so two approvers, or two
// retries on two nodes, cannot both win. Expiry is computed at read, never stored.

import type {
  Approval,
  ApprovalGrant,
  ApprovalStatus,
  ApprovalStore,
  NewApproval,
  Settlement,
} from '../../approval/approval.js';
import { iso, joins, pending, toApproval, type ApprovalRow } from '../approval-row.js';
import { LOCK, lockKey } from './migrations.js';
import type { PostgresDb } from './db.js';

const COLUMNS =
  'id, status, body, expires_at, approver, note, decided_at, grant_expires_at, uses_left';

export class PostgresApprovalStore implements ApprovalStore {
  constructor(private readonly db: PostgresDb) {}

  private get t() {
    return `${this.db.s}.approvals`;
  }

  async create(a: NewApproval): Promise<void> {
    await this.db.query(
      'creating an approval request',
      `INSERT INTO ${this.t} (id, binding, status, body, created_at, expires_at)
       VALUES ($1, $2, 'pending', $3, $4, $5)`,
      [a.id, a.binding, JSON.stringify(a), Date.parse(a.createdAt), Date.parse(a.expiresAt)],
    );
  }

  async openOrJoin(a: NewApproval, now: Date, deniedForMs: number): Promise<Approval> {
    // The binding's lock is taken by a statement of its own: a READ COMMITTED statement reads
    // from a snapshot taken when it starts, so the lookup after it sees a request another node
    // committed while this one waited for the lock.
    return this.db.transaction('opening an approval request', async (q) => {
      await q('SELECT pg_advisory_xact_lock($1, $2)', [
        LOCK.approval,
        lockKey(this.db.schema, a.binding),
      ]);
      const r = await q<ApprovalRow>(
        `SELECT ${COLUMNS} FROM ${this.t} WHERE binding = $1 AND status IN ('pending', 'denied')
         ORDER BY created_at DESC, id DESC LIMIT 1`,
        [a.binding],
      );
      const last = r.rows[0] && toApproval(r.rows[0], now.getTime());
      if (joins(last, now, deniedForMs)) return last!;
      await q(
        `INSERT INTO ${this.t} (id, binding, status, body, created_at, expires_at)
         VALUES ($1, $2, 'pending', $3, $4, $5)`,
        [a.id, a.binding, JSON.stringify(a), Date.parse(a.createdAt), Date.parse(a.expiresAt)],
      );
      return pending(a);
    });
  }

  async get(id: string, now: Date): Promise<Approval | undefined> {
    const r = await this.db.query<ApprovalRow>(
      'reading an approval',
      `SELECT ${COLUMNS} FROM ${this.t} WHERE id = $1`,
      [id],
      true,
    );
    return r.rows[0] && toApproval(r.rows[0], now.getTime());
  }

  async list(filter: { status?: ApprovalStatus; limit: number }, now: Date): Promise<Approval[]> {
    const t = now.getTime();
    // Expiry is computed, not stored: filter those by what they read as now.
    const stored = filter.status === 'expired' ? undefined : filter.status;
    const r = stored
      ? await this.db.query<ApprovalRow>(
          'listing approvals',
          `SELECT ${COLUMNS} FROM ${this.t} WHERE status = $1
           ORDER BY created_at DESC, id DESC LIMIT $2`,
          [stored, filter.limit],
          true,
        )
      : await this.db.query<ApprovalRow>(
          'listing approvals',
          `SELECT ${COLUMNS} FROM ${this.t} ORDER BY created_at DESC, id DESC LIMIT $1`,
          [filter.limit],
          true,
        );
    const all = r.rows.map((row) => toApproval(row, t));
    return filter.status ? all.filter((a) => a.status === filter.status) : all;
  }

  async latestFor(binding: string, now: Date): Promise<Approval | undefined> {
    const r = await this.db.query<ApprovalRow>(
      'reading the approval requests of a binding',
      `SELECT ${COLUMNS} FROM ${this.t} WHERE binding = $1 AND status IN ('pending', 'denied')
       ORDER BY created_at DESC, id DESC LIMIT 1`,
      [binding],
      true,
    );
    return r.rows[0] && toApproval(r.rows[0], now.getTime());
  }

  /**
   * Always true: a grant given through another node a moment ago must be found by the next
   * decision here, and only PostgreSQL knows of it (one indexed read per decision).
   */
  mayHaveGrants(): boolean {
    return true;
  }

  async findGrant(binding: string, now: Date): Promise<ApprovalGrant | undefined> {
    const r = await this.db.query<{ id: string; approver: string; decided_at: number }>(
      'looking up an approval grant',
      `SELECT id, approver, decided_at FROM ${this.t}
       WHERE binding = $1 AND status = 'approved' AND grant_expires_at > $2 AND uses_left > 0
       ORDER BY decided_at LIMIT 1`,
      [binding, now.getTime()],
      true,
    );
    const g = r.rows[0];
    return g && { id: g.id, by: g.approver, at: iso(g.decided_at) };
  }

  async settle(id: string, s: Settlement): Promise<boolean> {
    const approved = s.verdict === 'approved';
    const r = await this.db.query(
      'answering an approval request',
      `UPDATE ${this.t} SET status = $1, approver = $2, note = $3, decided_at = $4,
         grant_expires_at = $5, uses_left = $6
       WHERE id = $7 AND status = 'pending' AND expires_at > $4`,
      [
        s.verdict,
        s.approver,
        s.note ?? null,
        s.at.getTime(),
        approved ? (s.grantExpiresAt?.getTime() ?? null) : null,
        approved ? (s.uses ?? 1) : null,
        id,
      ],
    );
    return r.rowCount === 1;
  }

  async consume(id: string, now: Date): Promise<boolean> {
    const r = await this.db.query(
      'using an approval',
      `UPDATE ${this.t} SET uses_left = uses_left - 1,
         status = CASE WHEN uses_left = 1 THEN 'used' ELSE status END
       WHERE id = $1 AND status = 'approved' AND uses_left > 0 AND grant_expires_at > $2`,
      [id, now.getTime()],
    );
    return r.rowCount === 1;
  }

  /** The pool belongs to the backend (closed by Stores.close). */
  close(): void {}
}
