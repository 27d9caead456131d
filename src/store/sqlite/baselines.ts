// Baselines in DATA/baselines.db (synchronous NORMAL: a baseline is rebuilt from what agents do,
// so a power cut may cost the last update). Writes are conditional on the version read, so two
// writers never overwrite each other unknowingly.

import type Database from 'better-sqlite3';
import type { BaselineStore, StoredBaseline } from '../ports.js';
import { openStore } from './db.js';

export class SqliteBaselineStore implements BaselineStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'baselines.db', {
      synchronous: 'NORMAL',
      schema: `CREATE TABLE IF NOT EXISTS baselines (
      subject TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);`,
    });
    const d = this.db;
    this.stmts = {
      get: d.prepare('SELECT version, data FROM baselines WHERE subject = ?'),
      create: d.prepare(
        'INSERT OR IGNORE INTO baselines (subject, version, data) VALUES (?, 1, ?)',
      ),
      update: d.prepare(
        'UPDATE baselines SET version = version + 1, data = ? WHERE subject = ? AND version = ?',
      ),
      delete: d.prepare('DELETE FROM baselines WHERE subject = ?'),
      subjects: d.prepare('SELECT subject FROM baselines ORDER BY subject').pluck(),
    };
  }

  async get(subject: string): Promise<StoredBaseline | undefined> {
    return this.stmts.get.get(subject) as StoredBaseline | undefined;
  }

  async put(subject: string, data: string, expected: number): Promise<boolean> {
    const r =
      expected === 0
        ? this.stmts.create.run(subject, data)
        : this.stmts.update.run(data, subject, expected);
    return r.changes === 1;
  }

  async delete(subject: string): Promise<boolean> {
    return this.stmts.delete.run(subject).changes === 1;
  }

  async subjects(): Promise<string[]> {
    return this.stmts.subjects.all() as string[];
  }

  close(): void {
    this.db.close();
  }
}
