// Session history in PostgreSQL, shared by every node: an append-only event list per key with a
// bigserial cursor. Appends to one key take a transaction-level advisory lock on the key before
// drawing their sequence number, so within a key sequence order is commit order: a reader that
// has seen seq N never misses a smaller seq of the same key committing later (two nodes
// appending to one session at once would otherwise allow it). Committed without waiting for
// the disk (ASYNC_COMMIT), as the embedded store's synchronous NORMAL: a decision does not wait
// for a flush; a PostgreSQL crash may lose the last fraction of a second of history.

import type { SessionEvent } from '../../core/stages/session.js';
import type { SessionEventStore } from '../ports.js';
import type { PostgresDb } from './db.js';
import { ASYNC_COMMIT, LOCK, lockKey } from './migrations.js';

export class PostgresSessionEvents implements SessionEventStore {
  constructor(private readonly db: PostgresDb) {}

  async append(key: string, event: SessionEvent): Promise<void> {
    await this.db.query(
      'appending a session event',
      `WITH l AS (SELECT pg_advisory_xact_lock($1, $2), ${ASYNC_COMMIT})
       INSERT INTO ${this.db.s}.session_events (key, event) SELECT $3::bytea, $4::text FROM l`,
      [LOCK.session, lockKey(this.db.schema, key), Buffer.from(key), JSON.stringify(event)],
    );
  }

  async events(
    key: string,
    opts: { after: number; limit: number },
  ): Promise<{ events: SessionEvent[]; cursor: number }> {
    const r = await this.db.query<{ seq: number; event: string }>(
      'reading session events',
      `SELECT seq, event FROM ${this.db.s}.session_events
       WHERE key = $1 AND seq > $2 ORDER BY seq DESC LIMIT $3`,
      [Buffer.from(key), opts.after, opts.limit],
      true,
    );
    const rows = r.rows.reverse();
    return {
      events: rows.map((row) => JSON.parse(row.event) as SessionEvent),
      cursor: rows.at(-1)?.seq ?? opts.after,
    };
  }
}
