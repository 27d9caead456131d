// Session history in DATA/sessions.db: survives restarts. The newest events per session are
// kept (older ones add nothing a window or a label needs twice: labels are kept by first origin).

import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { SessionEvent, SessionStore } from '../core/stages/session.js';

const KEEP = 1000;

export class SqliteSessionStore implements SessionStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly recent: Database.Statement;

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'sessions.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS session_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, event TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS session_events_key ON session_events(key, seq);`);
    this.insert = this.db.prepare('INSERT INTO session_events (key, event) VALUES (?, ?)');
    this.recent = this.db
      .prepare('SELECT event FROM session_events WHERE key = ? ORDER BY seq DESC LIMIT ?')
      .pluck();
  }

  async load(key: string): Promise<SessionEvent[]> {
    return (this.recent.all(key, KEEP) as string[])
      .reverse()
      .map((e) => JSON.parse(e) as SessionEvent);
  }

  async append(key: string, event: SessionEvent): Promise<void> {
    this.insert.run(key, JSON.stringify(event));
  }

  close(): void {
    this.db.close();
  }
}

/** For one-off decisions and tests: the same behaviour, nothing on disk. */
export class MemorySessionStore implements SessionStore {
  private readonly events = new Map<string, SessionEvent[]>();
  async load(key: string): Promise<SessionEvent[]> {
    return [...(this.events.get(key) ?? [])];
  }
  async append(key: string, event: SessionEvent): Promise<void> {
    const list = this.events.get(key) ?? [];
    list.push(event);
    if (list.length > KEEP) list.shift();
    this.events.set(key, list);
  }
}
