// Session history in DATA/sessions.db (synchronous NORMAL: survives a process crash): an
// append-only event list per key. Summaries are not kept here but in store/cache/sessions.ts.

import type Database from 'better-sqlite3';
import type { SessionEvent } from '../../core/stages/session.js';
import type { SessionEventStore } from '../ports.js';
import { dataVersion, openStore, OwnInserts } from './db.js';

export class SqliteSessionEvents implements SessionEventStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly after: Database.Statement;
  /** See dataVersion: lets the cache skip a read when no other process wrote. */
  readonly version: () => number;
  readonly own = new OwnInserts();

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'sessions.db', {
      synchronous: 'NORMAL',
      // No AUTOINCREMENT: rows are never deleted, so rowids already grow, and AUTOINCREMENT
      // would write its sqlite_sequence page in every commit (a decision waits for this one).
      schema: `CREATE TABLE IF NOT EXISTS session_events (
      seq INTEGER PRIMARY KEY, key TEXT NOT NULL, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS session_events_key ON session_events(key, seq);`,
    });
    this.insert = this.db.prepare('INSERT INTO session_events (key, event) VALUES (?, ?)');
    this.after = this.db.prepare(
      'SELECT seq, event FROM session_events WHERE key = ? AND seq > ? ORDER BY seq DESC LIMIT ?',
    );
    this.version = dataVersion(this.db);
  }

  /** Appends and returns the event's cursor (for the cache in this process). */
  appendNow(key: string, event: SessionEvent): number {
    const seq = Number(this.insert.run(key, JSON.stringify(event)).lastInsertRowid);
    this.own.note(seq, seq);
    return seq;
  }

  async append(key: string, event: SessionEvent): Promise<void> {
    this.appendNow(key, event);
  }

  eventsNow(key: string, opts: { after: number; limit: number }) {
    const rows = this.after.all(key, opts.after, opts.limit) as { seq: number; event: string }[];
    return {
      events: rows.reverse().map((r) => JSON.parse(r.event) as SessionEvent),
      cursor: rows.at(-1)?.seq ?? opts.after,
    };
  }

  async events(key: string, opts: { after: number; limit: number }) {
    return this.eventsNow(key, opts);
  }

  close(): void {
    this.db.close();
  }
}
