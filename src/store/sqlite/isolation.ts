// Isolation state in DATA/isolation.db (synchronous FULL: an isolation, once applied, survives
// power loss). One row per scope (agent, agent+user, agent+session); a release keeps the row,
// marked, so what was applied stays readable; an expired state is not in force (nothing to
// release).

import type Database from 'better-sqlite3';
import type { IsolationState, IsolationStore } from '../ports.js';
import { isolationKey } from '../ports.js';
import { dataVersion, openStore } from './db.js';

export class SqliteIsolationStore implements IsolationStore {
  private readonly db: Database.Database;
  private readonly stmts;
  readonly version: () => number;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'isolation.db', {
      synchronous: 'FULL',
      // Times as ISO strings (they compare in order): the table src/isolation/ first wrote.
      schema: `CREATE TABLE IF NOT EXISTS isolation (
      key TEXT PRIMARY KEY, state TEXT NOT NULL, until TEXT, released TEXT);`,
    });
    const d = this.db;
    this.stmts = {
      put: d.prepare(
        `INSERT INTO isolation (key, state, until, released) VALUES (?, ?, ?, NULL)
         ON CONFLICT(key) DO UPDATE SET state = excluded.state, until = excluded.until,
           released = NULL`,
      ),
      release: d.prepare(
        `UPDATE isolation SET released = ?
         WHERE key = ? AND released IS NULL AND (until IS NULL OR until > ?)`,
      ),
      active: d
        .prepare(
          'SELECT state FROM isolation WHERE released IS NULL AND (until IS NULL OR until > ?)',
        )
        .pluck(),
    };
    this.version = dataVersion(d);
  }

  async put(state: IsolationState): Promise<void> {
    this.stmts.put.run(
      isolationKey(state),
      JSON.stringify(state),
      state.until === undefined ? null : new Date(state.until).toISOString(),
    );
  }

  async release(key: string, at: Date): Promise<boolean> {
    const t = at.toISOString();
    return this.stmts.release.run(t, key, t).changes > 0;
  }

  async active(now: Date): Promise<IsolationState[]> {
    return (this.stmts.active.all(now.toISOString()) as string[]).map(
      (s) => JSON.parse(s) as IsolationState,
    );
  }

  close(): void {
    this.db.close();
  }
}
