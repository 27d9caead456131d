// The cluster audit log's tables in PostgreSQL, created on open (under a transaction-level
// advisory lock, so nodes starting together do not race), the connection settings every node
// uses, and the reader the audit commands and routes use (the store port's AuditReader).
//
//   audit_entries      records appended by any node, not numbered yet (group commit per batch)
//   audit_records      records the sequencer numbered: seq = Merkle leaf index, canonical text
//   audit_checkpoints  signed checkpoints; only the lock-holding sequencer inserts, only larger
//   audit_policy_sets  every policy set a decision was made under, by version (for replay)
//   audit_meta         the log's origin and verifier key, shared by every node

import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PolicySources } from '../../core/compile.js';
import type {
  AuditReader,
  RecordQuery,
  StoredCheckpoint,
  StoredRecord,
} from '../../store/audit-port.js';
import type { Hash } from '../merkle.js';
import { postgresConfig, shownUrl } from '../../store/postgres/url.js';

export { shownUrl };

export interface PgTarget {
  /** postgres://… */
  url: string;
  /** The schema holding the log's tables (default: cordon, as for the other stores). */
  schema?: string | undefined;
}

/** The schema the PostgreSQL store backend uses by default (store/postgres/index.ts). */
export const DEFAULT_SCHEMA = 'cordon';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!IDENTIFIER.test(schema))
    throw new Error(
      `PostgreSQL schema "${schema}": use lower-case letters, digits and _ (at most 63)`,
    );
  return schema;
}

/**
 * Connection settings: the schema on the search path, and synchronous_commit on whatever the
 * server's default is (an append is acknowledged only once its COMMIT is on disk).
 */
export function connectionConfig(t: PgTarget): pg.ClientConfig {
  const schema = checkSchemaName(t.schema ?? DEFAULT_SCHEMA);
  return {
    ...postgresConfig(t.url),
    options: `-c synchronous_commit=on -c search_path=${schema}`,
    application_name: `cordon-audit:${schema}`,
    connectionTimeoutMillis: 5000,
    // A server that stops answering fails the query (a decision denies) instead of hanging it.
    query_timeout: 10_000,
    keepAlive: true,
  };
}

/** The advisory lock keys of one log (one per schema), as two non-negative int4. */
export interface LockKeys {
  sequencer: [number, number];
  migrate: [number, number];
}

export function lockKeys(schema: string): LockKeys {
  const h = createHash('sha256').update(schema).digest().readUInt32BE(0) & 0x7fffffff;
  // "CRDA" and "CRDM": the audit sequencer and the audit migration, in this schema.
  return { sequencer: [0x43524441, h], migrate: [0x4352444d, h] };
}

const DDL = `
  CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS audit_entries (
    id BIGSERIAL PRIMARY KEY,
    decision_id TEXT NOT NULL UNIQUE,
    session TEXT,
    time TEXT NOT NULL,
    -- the canonical record numbered 0, and the offset of that 0 (the sequencer writes the index)
    body TEXT NOT NULL,
    seq_at INTEGER NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  -- A queue: every row is deleted soon after it is inserted, so vacuum it by row count.
  ALTER TABLE audit_entries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
  CREATE TABLE IF NOT EXISTS audit_records (
    seq BIGINT PRIMARY KEY,
    decision_id TEXT NOT NULL UNIQUE,
    session TEXT,
    time TEXT NOT NULL,
    record TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL
  );
  CREATE INDEX IF NOT EXISTS audit_records_session ON audit_records(session) WHERE session IS NOT NULL;
  CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records(time);
  CREATE TABLE IF NOT EXISTS audit_checkpoints (size BIGINT PRIMARY KEY, time TEXT NOT NULL, note TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS audit_policy_sets (version TEXT PRIMARY KEY, sources TEXT NOT NULL, first_seen TEXT NOT NULL);
`;

/** Creates the schema and tables if missing (nodes starting together wait for each other). */
export async function migrate(client: pg.ClientBase, schema: string): Promise<void> {
  const keys = lockKeys(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', keys.migrate);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${checkSchemaName(schema)}`);
    await client.query(DDL);
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

interface RecordRow {
  seq: string;
  decision_id: string;
  session: string | null;
  time: string;
  record: string;
  leaf_hash: Buffer;
}

const RECORD = 'SELECT seq, decision_id, session, time, record, leaf_hash FROM audit_records';

const toRecord = (r: RecordRow): StoredRecord => ({
  seq: Number(r.seq),
  decisionId: r.decision_id,
  session: r.session,
  time: r.time,
  record: r.record,
  leafHash: r.leaf_hash,
});

const toCheckpoint = (r: { size: string; time: string; note: string }): StoredCheckpoint => ({
  size: Number(r.size),
  time: r.time,
  note: r.note,
});

const PAGE = 5000;

/** The cluster log's tables, read (by a node, or by `cordon audit … --postgres`). */
export class PgAuditReader implements AuditReader {
  constructor(
    /** A pool or client with the log's schema on its search path. */
    readonly db: pg.Pool | pg.ClientBase,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.db.query<{ value: string }>(
      'SELECT value FROM audit_meta WHERE key = $1',
      [key],
    );
    return r.rows[0]?.value;
  }

  async count(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM audit_records');
    return Number(r.rows[0]!.n);
  }

  /** [seq, leaf hash] from `from` on, in pages (keyset by seq, so none is read twice). */
  async *leaves(from = 0): AsyncGenerator<[number, Hash]> {
    for (let next = from; ;) {
      const r = await this.db.query<{ seq: string; leaf_hash: Buffer }>(
        'SELECT seq, leaf_hash FROM audit_records WHERE seq >= $1 ORDER BY seq LIMIT $2',
        [next, PAGE],
      );
      for (const row of r.rows) yield [Number(row.seq), row.leaf_hash];
      if (r.rows.length < PAGE) return;
      next = Number(r.rows.at(-1)!.seq) + 1;
    }
  }

  async *iterate(from = 0): AsyncGenerator<StoredRecord> {
    for (let next = from; ;) {
      const r = await this.db.query<RecordRow>(`${RECORD} WHERE seq >= $1 ORDER BY seq LIMIT $2`, [
        next,
        PAGE,
      ]);
      for (const row of r.rows) yield toRecord(row);
      if (r.rows.length < PAGE) return;
      next = Number(r.rows.at(-1)!.seq) + 1;
    }
  }

  async byDecisionId(id: string): Promise<StoredRecord | undefined> {
    const r = await this.db.query<RecordRow>(`${RECORD} WHERE decision_id = $1`, [id]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  async query(opts: RecordQuery): Promise<StoredRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      args.push(v);
      where.push(sql.replace('?', `$${args.length}`));
    };
    if (opts.session !== undefined) add('session = ?', opts.session);
    if (opts.since !== undefined) add('time >= ?', opts.since);
    if (opts.after !== undefined) add('seq > ?', opts.after);
    let sql = `${RECORD} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    if (opts.limit !== undefined && opts.limit >= 0) {
      args.push(opts.limit);
      sql += ` LIMIT $${args.length}`;
    }
    return (await this.db.query<RecordRow>(sql, args)).rows.map(toRecord);
  }

  async tail(n: number): Promise<StoredRecord[]> {
    const r = await this.db.query<RecordRow>(`${RECORD} ORDER BY seq DESC LIMIT $1`, [n]);
    return r.rows.map(toRecord).reverse();
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const r = await this.db.query<{ size: string; time: string; note: string }>(
      'SELECT size, time, note FROM audit_checkpoints ORDER BY size',
    );
    return r.rows.map(toCheckpoint);
  }

  async checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    const r = await this.db.query<{ size: string; time: string; note: string }>(
      'SELECT size, time, note FROM audit_checkpoints WHERE size = $1',
      [size],
    );
    return r.rows[0] ? toCheckpoint(r.rows[0]) : undefined;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const r = await this.db.query<{ size: string; time: string; note: string }>(
      'SELECT size, time, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1',
    );
    return r.rows[0] ? toCheckpoint(r.rows[0]) : undefined;
  }

  async policySet(version: string): Promise<PolicySources | undefined> {
    const r = await this.db.query<{ sources: string }>(
      'SELECT sources FROM audit_policy_sets WHERE version = $1',
      [version],
    );
    return r.rows[0] ? (JSON.parse(r.rows[0].sources) as PolicySources) : undefined;
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/** Opens a reader on its own pool (for the CLI: nothing is created, the tables must exist). */
export async function openPgReader(target: PgTarget): Promise<PgAuditReader> {
  const pool = new pg.Pool({ ...connectionConfig(target), max: 2 });
  pool.on('error', () => {}); // an idle connection dropped: the next query reports it
  try {
    const r = await pool.query<{ t: string | null }>("SELECT to_regclass('audit_records') AS t");
    if (!r.rows[0]?.t)
      throw new Error(
        `no audit log in ${shownUrl(target.url)} schema ${target.schema ?? DEFAULT_SCHEMA} (no audit_records table)`,
      );
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  return new PgAuditReader(pool, () => pool.end());
}
