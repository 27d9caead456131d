// Model usage in DATA/usage.db (synchronous NORMAL): one row per key and completed request.
// The windows decisions read are kept in store/cache/usage.ts.

import type Database from 'better-sqlite3';
import type { UsageEntry, UsageStore } from '../ports.js';
import { dataVersion, openStore, OwnInserts } from './db.js';

export class SqliteUsageStore implements UsageStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly since: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly recordAll: (keys: string[], time: number, tokens: number) => number[];
  readonly version: () => number;
  readonly own = new OwnInserts();

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'usage.db', {
      synchronous: 'NORMAL',
      schema: `CREATE TABLE IF NOT EXISTS usage (
      key TEXT NOT NULL, time INTEGER NOT NULL, tokens INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS usage_key_time ON usage(key, time);`,
    });
    this.insert = this.db.prepare('INSERT INTO usage (key, time, tokens) VALUES (?, ?, ?)');
    this.since = this.db.prepare(
      'SELECT rowid AS seq, time, tokens FROM usage WHERE key = ? AND time > ? AND rowid > ? ORDER BY rowid',
    );
    // The newest row stays: rowids are the cursors, and SQLite reuses a rowid above the
    // highest one left, which a cache holding that cursor would never read.
    this.prune = this.db.prepare(
      'DELETE FROM usage WHERE time < ? AND rowid < (SELECT max(rowid) FROM usage)',
    );
    this.recordAll = this.db.transaction((keys: string[], time: number, tokens: number) =>
      keys.map((k) => Number(this.insert.run(k, time, tokens).lastInsertRowid)),
    );
    this.version = dataVersion(this.db);
  }

  /** Records and returns each key's cursor (for the cache in this process). */
  recordNow(keys: string[], tokens: number, at: Date): number[] {
    const seqs = this.recordAll(keys, at.getTime(), tokens);
    if (seqs.length > 0) this.own.note(seqs[0]!, seqs.at(-1)!);
    return seqs;
  }

  async record(keys: string[], tokens: number, at: Date): Promise<void> {
    this.recordNow(keys, tokens, at);
  }

  entriesNow(key: string, opts: { after: number; since: Date }) {
    const rows = this.since.all(key, opts.since.getTime(), opts.after) as (UsageEntry & {
      seq: number;
    })[];
    return {
      entries: rows.map((r) => ({ time: r.time, tokens: r.tokens })),
      cursor: rows.at(-1)?.seq ?? opts.after,
    };
  }

  async entries(key: string, opts: { after: number; since: Date }) {
    return this.entriesNow(key, opts);
  }

  async compact(before: Date): Promise<void> {
    this.prune.run(before.getTime());
  }

  close(): void {
    this.db.close();
  }
}
