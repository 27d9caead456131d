// Isolation state in PostgreSQL, shared by every node: one row per scope (agent, agent+user,
// agent+session); a release keeps the row, marked, so what was applied stays readable.

import { isolationKey, type IsolationState, type IsolationStore } from '../ports.js';
import type { PostgresDb } from './db.js';

export class PostgresIsolationStore implements IsolationStore {
  constructor(private readonly db: PostgresDb) {}

  async put(state: IsolationState): Promise<void> {
    await this.db.query(
      'applying an isolation',
      `INSERT INTO ${this.db.s}.isolation (key, state, until, released_at) VALUES ($1, $2, $3, NULL)
       ON CONFLICT (key) DO UPDATE SET state = excluded.state, until = excluded.until,
         released_at = NULL`,
      [
        Buffer.from(isolationKey(state)),
        JSON.stringify(state),
        state.until === undefined ? null : Date.parse(state.until),
      ],
      true,
    );
  }

  async release(key: string, at: Date): Promise<boolean> {
    const r = await this.db.query(
      'releasing an isolation',
      `UPDATE ${this.db.s}.isolation SET released_at = $1 WHERE key = $2 AND released_at IS NULL`,
      [at.getTime(), Buffer.from(key)],
    );
    return r.rowCount === 1;
  }

  async active(now: Date): Promise<IsolationState[]> {
    const r = await this.db.query<{ state: string }>(
      'reading isolation state',
      `SELECT state FROM ${this.db.s}.isolation
       WHERE released_at IS NULL AND (until IS NULL OR until > $1)`,
      [now.getTime()],
      true,
    );
    return r.rows.map((row) => JSON.parse(row.state) as IsolationState);
  }
}
