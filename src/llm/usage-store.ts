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

export class SqliteUsageStore implements UsageTotalsSource {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly since: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly windows = new Map<string, Entry[]>();

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
  }

  private window(key: string, now: number): Entry[] {
    let w = this.windows.get(key);
    if (!w) {
      w = this.since.all(key, now - this.windowMs) as Entry[];
      this.windows.set(key, w);
    }
    let drop = 0;
    while (drop < w.length && w[drop]!.time <= now - this.windowMs) drop++;
    if (drop > 0) w.splice(0, drop);
    return w;
  }

  async totals(key: string, now: Date): Promise<UsageTotals> {
    const w = this.window(key, now.getTime());
    let tokens = 0;
    for (const e of w) tokens += e.tokens;
    return { requests: w.length, tokens };
  }

  /** One completed model request and the tokens the provider reported, for each key. */
  record(keys: string[], tokens: number, now: Date): void {
    const t = now.getTime();
    const add = this.db.transaction(() => {
      for (const k of keys) this.insert.run(k, t, tokens);
    });
    add();
    for (const k of keys) this.window(k, t).push({ time: t, tokens });
  }

  /** Drops rows no window can see any more. */
  compact(now: Date): void {
    this.prune.run(now.getTime() - this.windowMs);
  }

  close(): void {
    this.db.close();
  }
}
