// Model usage in PostgreSQL, shared by every node: one row per key and completed request, read
// by cursor (bigserial). A request's rows are written in one statement after taking each key's
// advisory lock (in a fixed order, so two writers cannot deadlock): within a key, sequence
// order is commit order, and a reader's cursor never skips a row committed late. Committed
// without waiting for the disk (ASYNC_COMMIT), as the embedded store's synchronous NORMAL.

import type { UsageEntry, UsageStore } from '../ports.js';
import type { PostgresDb } from './db.js';
import { ASYNC_COMMIT, LOCK, lockKey } from './migrations.js';

export class PostgresUsageStore implements UsageStore {
  constructor(private readonly db: PostgresDb) {}

  async record(keys: string[], tokens: number, at: Date): Promise<void> {
    if (keys.length === 0) return;
    await this.db.query(
      'recording model usage',
      `WITH l AS (
         SELECT count(pg_advisory_xact_lock($1, h)) AS n, ${ASYNC_COMMIT}
         FROM (SELECT h FROM unnest($2::int[]) h ORDER BY h) o)
       INSERT INTO ${this.db.s}.usage (key, time, tokens)
       SELECT k, $4::bigint, $5::bigint FROM l, unnest($3::bytea[]) WITH ORDINALITY AS u(k, i) ORDER BY i`,
      [
        LOCK.usage,
        // Each lock once, in one order for every writer.
        [...new Set(keys.map((k) => lockKey(this.db.schema, k)))],
        keys.map((k) => Buffer.from(k)),
        at.getTime(),
        tokens,
      ],
    );
  }

  async entries(
    key: string,
    opts: { after: number; since: Date },
  ): Promise<{ entries: UsageEntry[]; cursor: number }> {
    const r = await this.db.query<{ seq: number; time: number; tokens: number }>(
      'reading model usage',
      `SELECT seq, time, tokens FROM ${this.db.s}.usage
       WHERE key = $1 AND seq > $2 AND time > $3 ORDER BY seq`,
      [Buffer.from(key), opts.after, opts.since.getTime()],
      true,
    );
    return {
      entries: r.rows.map((row) => ({ time: row.time, tokens: row.tokens })),
      cursor: r.rows.at(-1)?.seq ?? opts.after,
    };
  }

  async compact(before: Date): Promise<void> {
    // Sequence values are never reused, so every row older than the window can go.
    await this.db.query(
      'compacting model usage',
      `DELETE FROM ${this.db.s}.usage WHERE time < $1`,
      [before.getTime()],
      true,
    );
  }
}
