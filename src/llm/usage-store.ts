// Model usage in DATA/usage.db, kept in memory per key over the budget window. Rebuilt from the
// database on first use after a restart, so budgets survive one.

import type Database from 'better-sqlite3';
import type { UsageTotalsSource } from '../core/stages/usage.js';
import type { UsageTotals } from '../core/types.js';
import { openStore } from '../storage/sqlite.js';

interface Entry {
  time: number;
  tokens: number;
}

/** One key's entries in the window, with the token sum kept as entries enter and leave. */
class Window {
  private start = 0;
  tokens = 0;

  constructor(private readonly entries: Entry[]) {
    for (const e of entries) this.tokens += e.tokens;
  }

  get requests(): number {
    return this.entries.length - this.start;
  }

  add(e: Entry): void {
    this.entries.push(e);
    this.tokens += e.tokens;
  }

  /** Drops what is older than `from`; compacts the array once half of it is dropped. */
  prune(from: number): void {
    while (this.start < this.entries.length && this.entries[this.start]!.time <= from)
      this.tokens -= this.entries[this.start++]!.tokens;
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries.splice(0, this.start);
      this.start = 0;
    }
  }
}

export class SqliteUsageStore implements UsageTotalsSource {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly since: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly recordAll: (keys: string[], time: number, tokens: number) => void;
  private readonly windows = new Map<string, Window>();

  constructor(
    dataDir: string,
    private readonly windowMs: number,
  ) {
    this.db = openStore(dataDir, 'usage.db', {
      synchronous: 'NORMAL',
      schema: `CREATE TABLE IF NOT EXISTS usage (
      key TEXT NOT NULL, time INTEGER NOT NULL, tokens INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS usage_key_time ON usage(key, time);`,
    });
    this.insert = this.db.prepare('INSERT INTO usage (key, time, tokens) VALUES (?, ?, ?)');
    this.since = this.db.prepare(
      'SELECT time, tokens FROM usage WHERE key = ? AND time > ? ORDER BY time',
    );
    this.prune = this.db.prepare('DELETE FROM usage WHERE time <= ?');
    this.recordAll = this.db.transaction((keys: string[], time: number, tokens: number) => {
      for (const k of keys) this.insert.run(k, time, tokens);
    });
  }

  /** The key's window as of `now`: read from the database once, then kept up to date. */
  private window(key: string, now: number): Window {
    let w = this.windows.get(key);
    if (!w) {
      w = new Window(this.since.all(key, now - this.windowMs) as Entry[]);
      this.windows.set(key, w);
    }
    w.prune(now - this.windowMs);
    return w;
  }

  /** Per decision: no scan of the window, the sum is kept as entries come and go. */
  async totals(key: string, now: Date): Promise<UsageTotals> {
    const w = this.window(key, now.getTime());
    return { requests: w.requests, tokens: w.tokens };
  }

  /** One completed model request and the tokens the provider reported, for each key. */
  record(keys: string[], tokens: number, now: Date): void {
    const t = now.getTime();
    // Windows first: one read from the database after the insert would count the call twice.
    const windows = keys.map((k) => this.window(k, t));
    this.recordAll(keys, t, tokens);
    for (const w of windows) w.add({ time: t, tokens });
  }

  /** Drops rows no window can see any more. */
  compact(now: Date): void {
    this.prune.run(now.getTime() - this.windowMs);
  }

  close(): void {
    this.db.close();
  }
}
