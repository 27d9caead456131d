// Baselines in PostgreSQL, shared by every node. Writes are conditional on the version read
// (optimistic concurrency): of two nodes updating one baseline, one wins and the other reads
// again, merges and retries.

import type { BaselineStore, StoredBaseline } from '../ports.js';
import type { PostgresDb } from './db.js';

export class PostgresBaselineStore implements BaselineStore {
  constructor(private readonly db: PostgresDb) {}

  async get(subject: string): Promise<StoredBaseline | undefined> {
    const r = await this.db.query<StoredBaseline>(
      'reading a baseline',
      `SELECT version, data FROM ${this.db.s}.baselines WHERE subject = $1`,
      [Buffer.from(subject)],
      true,
    );
    return r.rows[0] && { version: r.rows[0].version, data: r.rows[0].data };
  }

  async put(subject: string, data: string, expected: number): Promise<boolean> {
    const r =
      expected === 0
        ? await this.db.query(
            'writing a baseline',
            `INSERT INTO ${this.db.s}.baselines (subject, version, data) VALUES ($1, 1, $2)
             ON CONFLICT (subject) DO NOTHING`,
            [Buffer.from(subject), data],
          )
        : await this.db.query(
            'writing a baseline',
            `UPDATE ${this.db.s}.baselines SET version = version + 1, data = $1
             WHERE subject = $2 AND version = $3`,
            [data, Buffer.from(subject), expected],
          );
    return r.rowCount === 1;
  }

  async delete(subject: string): Promise<boolean> {
    const r = await this.db.query(
      'deleting a baseline',
      `DELETE FROM ${this.db.s}.baselines WHERE subject = $1`,
      [Buffer.from(subject)],
    );
    return r.rowCount === 1;
  }

  async subjects(): Promise<string[]> {
    const r = await this.db.query<{ subject: Buffer }>(
      'listing baselines',
      `SELECT subject FROM ${this.db.s}.baselines ORDER BY subject`,
      [],
      true,
    );
    return r.rows.map((row) => row.subject.toString());
  }
}
