// The scale-out backend: every store in PostgreSQL, shared by any number of Cordon nodes, with
// Redis (optional) carrying change notifications between them. Opening applies the schema's
// migrations (under a lock, so nodes starting together do not race). Reads that decisions
// depend on always come from PostgreSQL; Redis only tells nodes that something changed.
// PostgreSQL unreachable: opening and every operation reject with a message naming the server
// (the decision path turns that into a deny), and health() says so.

import pg from 'pg';
import type { Stores } from '../ports.js';
import { PostgresApprovalStore } from './approvals.js';
import { PostgresBaselineStore } from './baselines.js';
import { NodeBus } from './bus.js';
import { PostgresDb, type PostgresOptions } from './db.js';
import { PostgresIsolationStore } from './isolation.js';
import { migrate } from './migrations.js';
import { PostgresRevocationStore } from './revocations.js';
import { PostgresSessionEvents } from './sessions.js';
import { PostgresUsageStore } from './usage.js';

export type { PostgresOptions };

const HEALTH_MS = 1000;

/** `p`, or `late` when it takes longer than `ms`. */
function within<T>(ms: number, p: Promise<T>, late: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
export { MIGRATIONS } from './migrations.js';

export interface PostgresStores extends Stores {
  readonly backend: 'postgres';
  readonly schema: string;
}

/** `storage` as in cordon.yaml; opts.schema, when given, wins over storage.schema. */
export async function openPostgresStores(
  storage: { postgres: string; redis?: string | undefined; schema?: string | undefined },
  opts: PostgresOptions = {},
): Promise<PostgresStores> {
  const db = new PostgresDb(storage.postgres, opts.schema ?? storage.schema ?? 'cordon', opts);
  let bus: NodeBus | undefined;
  try {
    // A connection of its own, without the query timeout: waiting for another node's
    // migration (the lock) or running a long one is not a stuck decision.
    const client = new pg.Client({ ...db.clientConfig(), query_timeout: undefined });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (e) {
      throw db.failure('opening the store', e);
    }
    try {
      await migrate(client, db.schema);
    } catch (e) {
      throw db.failure(`migrating schema ${db.schema}`, e);
    } finally {
      await client.end().catch(() => {});
    }
    bus = new NodeBus(db, storage.redis);
    await bus.start();
  } catch (e) {
    await bus?.close();
    await db.close().catch(() => {});
    throw e;
  }
  const b = bus;
  let closed: Promise<void> | undefined;
  return {
    backend: 'postgres',
    schema: db.schema,
    approvals: new PostgresApprovalStore(db),
    sessions: new PostgresSessionEvents(db),
    usage: new PostgresUsageStore(db),
    revocations: new PostgresRevocationStore(db),
    isolation: new PostgresIsolationStore(db),
    baselines: new PostgresBaselineStore(db),
    bus: b,
    async health() {
      // A probe asking /healthz waits at most a second, whatever hangs.
      const [postgres, bus] = await Promise.all([
        within(HEALTH_MS, db.health(), `down: PostgreSQL at ${db.shown} did not answer within 1 s`),
        within(HEALTH_MS, b.health(), {
          notifications: 'unknown: no answer within 1 s',
          ...(storage.redis
            ? { redis: 'down: no answer within 1 s (notifications via PostgreSQL)' }
            : {}),
        }),
      ]);
      return { postgres, ...bus };
    },
    close() {
      closed ??= (async () => {
        await b.close();
        await db.close();
      })();
      return closed;
    },
  };
}
