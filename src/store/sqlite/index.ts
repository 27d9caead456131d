// The embedded backend: every store in SQLite files in the data directory, no server to run.
// Durability as each store needs it: approvals, revocations and isolation commit with
// synchronous FULL (they survive power loss), sessions, usage and baselines with NORMAL.

import type { Stores } from '../ports.js';
import { SqliteApprovalStore } from './approvals.js';
import { SqliteBaselineStore } from './baselines.js';
import { LocalChangeBus } from './bus.js';
import { SqliteIsolationStore } from './isolation.js';
import { SqliteRevocationStore } from './revocations.js';
import { SqliteSessionEvents } from './sessions.js';
import { SqliteUsageStore } from './usage.js';

export interface EmbeddedStores extends Stores {
  readonly backend: 'embedded';
  readonly approvals: SqliteApprovalStore;
  readonly sessions: SqliteSessionEvents;
  readonly usage: SqliteUsageStore;
  readonly revocations: SqliteRevocationStore;
  readonly isolation: SqliteIsolationStore;
  readonly baselines: SqliteBaselineStore;
}

export async function openEmbeddedStores(dataDir: string): Promise<EmbeddedStores> {
  const opened: { close(): void }[] = [];
  const open = <T extends { close(): void }>(s: T): T => {
    opened.push(s);
    return s;
  };
  try {
    const stores = {
      backend: 'embedded' as const,
      approvals: open(new SqliteApprovalStore(dataDir)),
      sessions: open(new SqliteSessionEvents(dataDir)),
      usage: open(new SqliteUsageStore(dataDir)),
      revocations: open(new SqliteRevocationStore(dataDir)),
      isolation: open(new SqliteIsolationStore(dataDir)),
      baselines: open(new SqliteBaselineStore(dataDir)),
      bus: new LocalChangeBus(),
      async health() {
        // Open files in the data directory: nothing can go down between decisions.
        return { storage: 'ok' };
      },
      async close() {
        for (const s of opened.splice(0)) s.close();
      },
    };
    return stores;
  } catch (e) {
    for (const s of opened) s.close();
    throw e;
  }
}

export { SqliteApprovalStore, SqliteRevocationStore, SqliteSessionEvents, SqliteUsageStore };
