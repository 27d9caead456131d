// Approval requests in DATA/approvals.db (synchronous FULL): they survive restarts and power loss.
// Answering and using an approval are single conditional UPDATEs, so two approvers, or two
// retries, cannot both win.

import type Database from 'better-sqlite3';
import { dataVersion, openStore } from './db.js';
import type {
  Approval,
  ApprovalGrant,
  ApprovalStatus,
  ApprovalStore,
  NewApproval,
  Settlement,
} from '../../approval/approval.js';
import { iso, joins, pending, toApproval, type ApprovalRow } from '../approval-row.js';

export class SqliteApprovalStore implements ApprovalStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /**
   * Approved grants with uses left: a hint to skip lookups, recounted when one is missed and
   * when another process wrote to the database.
   */
  private usableGrants: number;
  private readonly version: () => number;
  private seen: number;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'approvals.db', {
      synchronous: 'FULL',
      schema: `CREATE TABLE IF NOT EXISTS approvals (
      id TEXT PRIMARY KEY,
      binding TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending','approved','denied','used')),
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      approver TEXT, note TEXT, decided_at INTEGER,
      grant_expires_at INTEGER, uses_left INTEGER);
      CREATE INDEX IF NOT EXISTS approvals_binding ON approvals(binding, status);
      CREATE INDEX IF NOT EXISTS approvals_created ON approvals(created_at);`,
    });
    const d = this.db;
    this.stmts = {
      insert: d.prepare(
        `INSERT INTO approvals (id, binding, status, body, created_at, expires_at)
         VALUES (?, ?, 'pending', ?, ?, ?)`,
      ),
      get: d.prepare('SELECT * FROM approvals WHERE id = ?'),
      list: d.prepare('SELECT * FROM approvals ORDER BY created_at DESC, id DESC LIMIT ?'),
      listStatus: d.prepare(
        `SELECT * FROM approvals WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
      ),
      latest: d.prepare(
        `SELECT * FROM approvals WHERE binding = ? AND status IN ('pending', 'denied')
         ORDER BY created_at DESC, id DESC LIMIT 1`,
      ),
      grant: d.prepare(
        `SELECT id, approver, decided_at FROM approvals
         WHERE binding = ? AND status = 'approved' AND grant_expires_at > ? AND uses_left > 0
         ORDER BY decided_at LIMIT 1`,
      ),
      settle: d.prepare(
        `UPDATE approvals SET status = ?, approver = ?, note = ?, decided_at = ?,
           grant_expires_at = ?, uses_left = ?
         WHERE id = ? AND status = 'pending' AND expires_at > ?`,
      ),
      usable: d
        .prepare(
          `SELECT count(*) FROM approvals
           WHERE status = 'approved' AND uses_left > 0 AND grant_expires_at > ?`,
        )
        .pluck(),
      consume: d.prepare(
        `UPDATE approvals SET uses_left = uses_left - 1,
           status = CASE WHEN uses_left = 1 THEN 'used' ELSE status END
         WHERE id = ? AND status = 'approved' AND uses_left > 0 AND grant_expires_at > ?`,
      ),
    };
    this.version = dataVersion(d);
    this.seen = this.version();
    this.usableGrants = this.stmts.usable.get(Date.now()) as number;
  }

  async create(a: NewApproval): Promise<void> {
    this.stmts.insert.run(
      a.id,
      a.binding,
      JSON.stringify(a),
      Date.parse(a.createdAt),
      Date.parse(a.expiresAt),
    );
  }

  async openOrJoin(a: NewApproval, now: Date, deniedForMs: number): Promise<Approval> {
    // IMMEDIATE: the write lock is taken before the read, so another process sharing the data
    // directory cannot insert between them.
    return this.db
      .transaction(() => {
        const r = this.stmts.latest.get(a.binding) as ApprovalRow | undefined;
        const last = r && toApproval(r, now.getTime());
        if (joins(last, now, deniedForMs)) return last!;
        this.stmts.insert.run(
          a.id,
          a.binding,
          JSON.stringify(a),
          Date.parse(a.createdAt),
          Date.parse(a.expiresAt),
        );
        return pending(a);
      })
      .immediate();
  }

  async get(id: string, now: Date): Promise<Approval | undefined> {
    const r = this.stmts.get.get(id) as ApprovalRow | undefined;
    return r && toApproval(r, now.getTime());
  }

  async list(filter: { status?: ApprovalStatus; limit: number }, now: Date): Promise<Approval[]> {
    const t = now.getTime();
    // Expiry is computed, not stored: filter those by what they read as now.
    const stored = filter.status === 'expired' ? undefined : filter.status;
    const rows = (
      stored ? this.stmts.listStatus.all(stored, filter.limit) : this.stmts.list.all(filter.limit)
    ) as ApprovalRow[];
    const all = rows.map((r) => toApproval(r, t));
    return filter.status ? all.filter((a) => a.status === filter.status) : all;
  }

  async latestFor(binding: string, now: Date): Promise<Approval | undefined> {
    const r = this.stmts.latest.get(binding) as ApprovalRow | undefined;
    return r && toApproval(r, now.getTime());
  }

  mayHaveGrants(): boolean {
    const v = this.version();
    if (v !== this.seen) {
      this.seen = v;
      this.usableGrants = this.stmts.usable.get(Date.now()) as number;
    }
    return this.usableGrants > 0;
  }

  async findGrant(binding: string, now: Date): Promise<ApprovalGrant | undefined> {
    const r = this.stmts.grant.get(binding, now.getTime()) as
      { id: string; approver: string; decided_at: number } | undefined;
    // A miss may mean grants expired unused: recount, so lookups stop once none is left.
    if (!r) this.usableGrants = this.stmts.usable.get(now.getTime()) as number;
    return r && { id: r.id, by: r.approver, at: iso(r.decided_at) };
  }

  async settle(id: string, s: Settlement): Promise<boolean> {
    const approved = s.verdict === 'approved';
    const info = this.stmts.settle.run(
      s.verdict,
      s.approver,
      s.note ?? null,
      s.at.getTime(),
      approved ? (s.grantExpiresAt?.getTime() ?? null) : null,
      approved ? (s.uses ?? 1) : null,
      id,
      s.at.getTime(),
    );
    if (info.changes === 1 && approved) this.usableGrants++;
    return info.changes === 1;
  }

  async consume(id: string, now: Date): Promise<boolean> {
    const used = this.stmts.consume.run(id, now.getTime()).changes === 1;
    if (used && (this.stmts.get.get(id) as ApprovalRow).status === 'used') this.usableGrants--;
    return used;
  }

  close(): void {
    this.db.close();
  }
}
