// The embedded backend: every store in SQLite files in the data directory, no server to run.
// Durability as each store needs it: approvals, revocations and isolation commit with
// synchronous FULL (they survive power loss), sessions, usage and baselines with NORMAL.

import { ensureDataDir } from '../data-dir.js';
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

/**
 * Each store's file is opened when the store is first used: a CLI command that needs one store
 * (`cordon token revoke`) opens that one only, and creates no other file in the data directory.
 */
export async function openEmbeddedStores(dataDir: string): Promise<EmbeddedStores> {
  ensureDataDir(dataDir);
  const opened: { close(): void }[] = [];
  const lazy = <T extends { close(): void }>(make: () => T): (() => T) => {
    let store: T | undefined;
    return () => {
      if (!store) opened.push((store = make()));
      return store;
    };
  };
  const approvals = lazy(() => new SqliteApprovalStore(dataDir));
  const sessions = lazy(() => new SqliteSessionEvents(dataDir));
  const usage = lazy(() => new SqliteUsageStore(dataDir));
  const revocations = lazy(() => new SqliteRevocationStore(dataDir));
  const isolation = lazy(() => new SqliteIsolationStore(dataDir));
  const baselines = lazy(() => new SqliteBaselineStore(dataDir));
  const bus = new LocalChangeBus();
  return {
    backend: 'embedded',
    get approvals() {
      return approvals();
    },
    get sessions() {
      return sessions();
    },
    get usage() {
      return usage();
    },
    get revocations() {
      return revocations();
    },
    get isolation() {
      return isolation();
    },
    get baselines() {
      return baselines();
    },
    bus,
    async health() {
      // Files in the data directory: nothing to lose contact with between decisions.
      return { storage: 'ok' };
    },
    async close() {
      for (const s of opened.splice(0)) s.close();
    },
  };
}

export { SqliteApprovalStore, SqliteRevocationStore, SqliteSessionEvents, SqliteUsageStore };
