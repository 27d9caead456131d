// The PostgreSQL backend's schema, as versioned migrations applied in order when a node opens
// the store. They are TypeScript strings, so the build output carries them. All of them run in
// one transaction holding a transaction-level advisory lock: nodes starting together wait for
// each other, and the one that comes second finds everything applied. Each applied version is
// recorded in store_migrations; a database migrated by a newer Cordon is refused, not guessed at.
// Never edit a migration that shipped: add the next one. Keys are bytea: Cordon's keys join
// their parts with NUL, which PostgreSQL text cannot hold.

import { createHash } from 'node:crypto';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  /** SQL with {schema} for the quoted schema name. */
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'approvals, sessions, usage, revocations, isolation, baselines',
    sql: `
CREATE TABLE {schema}.approvals (
  id text PRIMARY KEY,
  binding text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  body text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  approver text,
  note text,
  decided_at bigint,
  grant_expires_at bigint,
  uses_left integer
);
CREATE INDEX approvals_binding ON {schema}.approvals (binding, status, created_at DESC);
CREATE INDEX approvals_created ON {schema}.approvals (created_at DESC, id DESC);
CREATE INDEX approvals_status ON {schema}.approvals (status, created_at DESC, id DESC);

-- seq is the readers' cursor; appends to one key are serialized (see sessions.ts), so a
-- smaller seq of a key never commits after a larger one.
CREATE TABLE {schema}.session_events (
  seq bigserial PRIMARY KEY,
  key bytea NOT NULL,
  event text NOT NULL
);
CREATE INDEX session_events_key ON {schema}.session_events (key, seq);

CREATE TABLE {schema}.usage (
  seq bigserial PRIMARY KEY,
  key bytea NOT NULL,
  time bigint NOT NULL,
  tokens bigint NOT NULL
);
CREATE INDEX usage_key ON {schema}.usage (key, seq);
CREATE INDEX usage_time ON {schema}.usage (time);

-- The revocation change log: every change takes the next value of revocation_seq (writers
-- are serialized, so values commit in order), and a reader asks for what is above its cursor.
CREATE SEQUENCE {schema}.revocation_seq;
CREATE TABLE {schema}.revoked_tokens (
  jti bytea PRIMARY KEY,
  at bigint NOT NULL,
  seq bigint NOT NULL
);
CREATE INDEX revoked_tokens_seq ON {schema}.revoked_tokens (seq);
CREATE TABLE {schema}.revoked_agents (
  agent bytea PRIMARY KEY,
  at bigint NOT NULL,
  lifted bigint,
  seq bigint NOT NULL
);
CREATE INDEX revoked_agents_seq ON {schema}.revoked_agents (seq);

CREATE TABLE {schema}.isolation (
  key bytea PRIMARY KEY,
  state text NOT NULL,
  until bigint,
  released_at bigint
);

CREATE TABLE {schema}.baselines (
  subject bytea PRIMARY KEY,
  version bigint NOT NULL,
  data text NOT NULL
);
`,
  },
];

/** Advisory lock classes (the two-int4 key space); the second key: lockKey(schema, key). */
export const LOCK = {
  migrate: 0x436f7201,
  session: 0x436f7202,
  usage: 0x436f7203,
  revocation: 0x436f7204,
  approval: 0x436f7205,
};

/**
 * A select-list item that commits the statement's transaction without waiting for the WAL flush
 * (synchronous_commit off for this transaction only): for history and usage, which the embedded
 * backend also keeps with synchronous NORMAL. Visibility to other nodes is unchanged.
 */
export const ASYNC_COMMIT = `set_config('synchronous_commit', 'off', true) AS async_commit`;

/** A 32-bit key for the advisory lock of one key in one schema (collisions only serialize more). */
export function lockKey(schema: string, key: string): number {
  return createHash('sha256').update(schema).update('\0').update(key).digest().readInt32BE(0);
}

/** Applies what `client`'s database lacks of `migrations`, in one transaction under the lock. */
export async function migrate(
  client: pg.ClientBase,
  schema: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ applied: number[] }> {
  const s = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK.migrate, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.store_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (
        await client.query<{ version: number }>(`SELECT version FROM ${s}.store_migrations`)
      ).rows.map((r) => r.version),
    );
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known)
      throw new Error(
        `the PostgreSQL schema ${schema} is at version ${newest}, newer than this Cordon knows (${known}): upgrade Cordon on this node`,
      );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql.replaceAll('{schema}', s));
      await client.query(`INSERT INTO ${s}.store_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { applied };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema name, checked (lower-case letters, digits, _) and quoted. */
export function quoteIdent(schema: string): string {
  if (!IDENTIFIER.test(schema))
    throw new Error(
      `PostgreSQL schema "${schema}": use lower-case letters, digits and _ (at most 63, not starting with a digit)`,
    );
  return `"${schema}"`;
}
