// The embedded audit store: one SQLite file in the data directory, in WAL mode (the log opens
// it with synchronous=NORMAL and makes commits durable with its own fsync: wal-sync.ts).
// Records, their leaf hashes, signed checkpoints, and every policy set a decision was made
// under, addressed by version.

import Database from 'better-sqlite3';
import type { PolicySources } from '../core/compile.js';
import type {
  AuditReader,
  RecordQuery,
  StoredCheckpoint,
  StoredRecord,
} from '../store/audit-port.js';
import type { Hash } from './merkle.js';

export type { StoredCheckpoint, StoredRecord };

/** The columns of a StoredRecord, as selected. */
const RECORD =
  'SELECT seq, decision_id AS decisionId, session, time, record, leaf_hash AS leafHash FROM records';

export class SqliteAuditStore implements AuditReader {
  readonly db: Database.Database;
  private readonly insertRecord: Database.Statement;
  private readonly insertPolicySet: Database.Statement;
  private readonly leafRange: Database.Statement;

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    this.db = new Database(file, {
      readonly: opts.readonly ?? false,
      fileMustExist: opts.readonly ?? false,
    });
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      // NORMAL (WAL): a commit survives any process crash and does not wait for the disk; the
      // log's own fsync (wal-sync.ts) makes it survive power loss.
      this.db.pragma('synchronous = NORMAL');
      // Checkpoints run on a worker (wal-checkpointer.ts), not inside our commits.
      this.db.pragma('wal_autocheckpoint = 0');
      this.db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS records (
          seq INTEGER PRIMARY KEY,
          decision_id TEXT NOT NULL UNIQUE,
          session TEXT,
          time TEXT NOT NULL,
          record TEXT NOT NULL,
          leaf_hash BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS records_session ON records(session) WHERE session IS NOT NULL;
        CREATE INDEX IF NOT EXISTS records_time ON records(time);
        CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, time TEXT NOT NULL, note TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS policy_sets (version TEXT PRIMARY KEY, sources TEXT NOT NULL, first_seen TEXT NOT NULL);
      `);
    }
    this.insertRecord = this.db.prepare(
      'INSERT INTO records (seq, decision_id, session, time, record, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertPolicySet = this.db.prepare(
      'INSERT OR IGNORE INTO policy_sets (version, sources, first_seen) VALUES (?, ?, ?)',
    );
    this.leafRange = this.db
      .prepare('SELECT leaf_hash FROM records WHERE seq >= ? AND seq < ? ORDER BY seq')
      .pluck();
  }

  getMeta(key: string): string | undefined {
    return (
      (this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as
        string | undefined) ?? undefined
    );
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  /** One transaction: either every record (and new policy set) of the batch is stored, or none. */
  appendBatch(
    records: StoredRecord[],
    policySets: { version: string; sources: PolicySources }[],
  ): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      for (const p of policySets)
        this.insertPolicySet.run(p.version, JSON.stringify(p.sources), now);
      for (const r of records)
        this.insertRecord.run(r.seq, r.decisionId, r.session, r.time, r.record, r.leafHash);
    })();
  }

  hasPolicySet(version: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM policy_sets WHERE version = ?').get(version) !== undefined
    );
  }

  policySet(version: string): PolicySources | undefined {
    const s = this.db
      .prepare('SELECT sources FROM policy_sets WHERE version = ?')
      .pluck()
      .get(version) as string | undefined;
    return s === undefined ? undefined : (JSON.parse(s) as PolicySources);
  }

  leafHashes(start: number, end: number): Hash[] {
    return this.leafRange.all(start, end) as Hash[];
  }

  count(): number {
    return this.db.prepare('SELECT COUNT(*) FROM records').pluck().get() as number;
  }

  /** The highest seq + 1 (equals count() unless rows were deleted). */
  nextSeq(): number {
    return (
      ((this.db.prepare('SELECT MAX(seq) FROM records').pluck().get() as number | null) ?? -1) + 1
    );
  }

  /** [seq, leaf hash] of every record in seq order, streamed. */
  *leaves(): Generator<[number, Hash]> {
    yield* this.db
      .prepare('SELECT seq, leaf_hash FROM records ORDER BY seq')
      .raw()
      .iterate() as IterableIterator<[number, Hash]>;
  }

  /** Every record in seq order, streamed. */
  *iterate(from = 0): Generator<StoredRecord> {
    const stmt = this.db.prepare(`${RECORD} WHERE seq >= ? ORDER BY seq`);
    yield* stmt.iterate(from) as IterableIterator<StoredRecord>;
  }

  byDecisionId(id: string): StoredRecord | undefined {
    return this.db.prepare(`${RECORD} WHERE decision_id = ?`).get(id) as StoredRecord | undefined;
  }

  query(opts: RecordQuery): StoredRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.session !== undefined) {
      where.push('session = ?');
      args.push(opts.session);
    }
    if (opts.since !== undefined) {
      where.push('time >= ?');
      args.push(opts.since);
    }
    if (opts.after !== undefined) {
      where.push('seq > ?');
      args.push(opts.after);
    }
    const sql = `${RECORD} ${
      where.length ? `WHERE ${where.join(' AND ')}` : ''
    } ORDER BY seq LIMIT ?`;
    return this.db.prepare(sql).all(...args, opts.limit ?? -1) as StoredRecord[];
  }

  tail(n: number): StoredRecord[] {
    return (
      this.db.prepare(`${RECORD} ORDER BY seq DESC LIMIT ?`).all(n) as StoredRecord[]
    ).reverse();
  }

  addCheckpoint(c: StoredCheckpoint): void {
    this.db
      .prepare('INSERT OR IGNORE INTO checkpoints (size, time, note) VALUES (?, ?, ?)')
      .run(c.size, c.time, c.note);
  }

  checkpoints(): StoredCheckpoint[] {
    return this.db
      .prepare('SELECT size, time, note FROM checkpoints ORDER BY size')
      .all() as StoredCheckpoint[];
  }

  checkpointAt(size: number): StoredCheckpoint | undefined {
    return this.db.prepare('SELECT size, time, note FROM checkpoints WHERE size = ?').get(size) as
      StoredCheckpoint | undefined;
  }

  /** Replaces a checkpoint's note by the same note with more signatures (a witness's). */
  setCheckpointNote(size: number, note: string): void {
    this.db.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(note, size);
  }

  latestCheckpoint(): StoredCheckpoint | undefined {
    return this.db
      .prepare('SELECT size, time, note FROM checkpoints ORDER BY size DESC LIMIT 1')
      .get() as StoredCheckpoint | undefined;
  }

  close(): void {
    this.db.close();
  }
}
