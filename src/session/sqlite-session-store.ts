// Session history in DATA/sessions.db: survives restarts. Decisions read a summary kept in
// memory (built from the newest events on first use, then updated on every append), so a long
// session costs a decision nothing extra.

import type Database from 'better-sqlite3';
import { SessionSummary, type SessionEvent, type SessionStore } from '../core/stages/session.js';
import { openStore } from '../storage/sqlite.js';

/** Events read back when a summary is rebuilt after a restart. */
const REBUILD_FROM = 1000;
/** Summaries kept in memory; the least recently used is dropped (and rebuilt if needed). */
const CACHED = 10_000;

export class SqliteSessionStore implements SessionStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly recent: Database.Statement;
  private readonly cache = new Map<string, SessionSummary>();

  constructor(
    dataDir: string,
    private readonly windowMs: number,
  ) {
    this.db = openStore(dataDir, 'sessions.db', {
      synchronous: 'NORMAL',
      // No AUTOINCREMENT: rows are never deleted, so rowids already grow, and AUTOINCREMENT
      // would write its sqlite_sequence page in every commit (a decision waits for this one).
      schema: `CREATE TABLE IF NOT EXISTS session_events (
      seq INTEGER PRIMARY KEY, key TEXT NOT NULL, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS session_events_key ON session_events(key, seq);`,
    });
    this.insert = this.db.prepare('INSERT INTO session_events (key, event) VALUES (?, ?)');
    this.recent = this.db
      .prepare('SELECT event FROM session_events WHERE key = ? ORDER BY seq DESC LIMIT ?')
      .pluck();
  }

  /** The session's newest events, oldest first (for rebuilding and inspection). */
  events(key: string): SessionEvent[] {
    return (this.recent.all(key, REBUILD_FROM) as string[])
      .reverse()
      .map((e) => JSON.parse(e) as SessionEvent);
  }

  async summary(key: string): Promise<SessionSummary> {
    let s = this.cache.get(key);
    if (s) {
      this.cache.delete(key); // refresh its place in the LRU order
    } else {
      s = new SessionSummary(this.windowMs);
      for (const e of this.events(key)) s.add(e);
    }
    this.cache.set(key, s);
    if (this.cache.size > CACHED) this.cache.delete(this.cache.keys().next().value as string);
    return s;
  }

  async append(key: string, event: SessionEvent): Promise<void> {
    this.insert.run(key, JSON.stringify(event));
    this.cache.get(key)?.add(event);
  }

  close(): void {
    this.db.close();
  }
}
