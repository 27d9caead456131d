// Interim embedded IsolationStore (DATA/isolation.db) and in-process change bus, used until the
// store port's embedded backend (store/sqlite/) provides `stores.isolation` and `stores.bus`.
// Same contract as those: one state per scope key, releases kept as history, expired states
// left out of `active`.

import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import { openStore } from '../storage/sqlite.js';
import {
  isolationKey,
  type ChangeBus,
  type ChangeTopic,
  type IsolationState,
  type IsolationStore,
} from '../store/ports.js';

export class SqliteIsolationStore implements IsolationStore {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = openStore(dataDir, 'isolation.db', {
      synchronous: 'FULL',
      schema: `
      CREATE TABLE IF NOT EXISTS isolation (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        until TEXT,
        released TEXT
      );`,
    });
  }

  async put(state: IsolationState): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO isolation (key, state, until, released) VALUES (?, ?, ?, NULL)
         ON CONFLICT(key) DO UPDATE SET state = excluded.state, until = excluded.until, released = NULL`,
      )
      .run(isolationKey(state), JSON.stringify(state), state.until ?? null);
  }

  async release(key: string, at: Date): Promise<boolean> {
    return (
      this.db
        .prepare(
          'UPDATE isolation SET released = ? WHERE key = ? AND released IS NULL AND (until IS NULL OR until > ?)',
        )
        .run(at.toISOString(), key, at.toISOString()).changes > 0
    );
  }

  async active(now: Date): Promise<IsolationState[]> {
    const rows = this.db
      .prepare(
        'SELECT state FROM isolation WHERE released IS NULL AND (until IS NULL OR until > ?)',
      )
      .all(now.toISOString()) as { state: string }[];
    return rows.map((r) => JSON.parse(r.state) as IsolationState);
  }

  close(): void {
    this.db.close();
  }
}

/** The embedded backend's bus: one process, so an event emitter. */
export class LocalChangeBus implements ChangeBus {
  private readonly events = new EventEmitter().setMaxListeners(0);

  async publish(topic: ChangeTopic, message: string): Promise<void> {
    this.events.emit(topic, message);
  }

  subscribe(topic: ChangeTopic, handler: (message: string) => void): () => void {
    this.events.on(topic, handler);
    return () => this.events.off(topic, handler);
  }
}
