// What the PostgreSQL backend adds to the store contract, against the real servers: nodes
// opening a new schema together, changes reaching another node (through Redis, through NOTIFY,
// and through NOTIFY when Redis goes away), and PostgreSQL unreachable or lost mid-run.
// Skipped, with the reason, where a server is not reachable.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../../testing/net.js';
import {
  TEST_POSTGRES,
  TEST_REDIS,
  cuttableLink,
  serviceSkips,
  throwawaySchema,
} from '../../testing/services.js';
import type { ChangeTopic, Stores } from '../ports.js';
import { MIGRATIONS, openPostgresStores } from './index.js';
import { LOCK, lockKey } from './migrations.js';
import { postgresConfig } from './url.js';

const { postgres: pgMissing, postgresAndRedis: noRedis } = await serviceSkips();
const MIN = 60_000;

/** A query on the test database from outside the stores under test. */
async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []) {
  const c = new pg.Client(postgresConfig(TEST_POSTGRES));
  await c.connect();
  try {
    return (await c.query<R>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Polls `check` until it holds (each condition here is reached by a background reconnect). */
async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000) {
  const until = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Subscribes on `to`, publishes once on `from`, resolves with the milliseconds it took to
 * arrive (rejects when it does not arrive at all).
 */
async function carries(from: Stores, to: Stores, topic: ChangeTopic): Promise<number> {
  const message = `m-${randomUUID()}`;
  let stop = () => {};
  const heard = new Promise<number>((resolve, reject) => {
    const start = performance.now();
    const timer = setTimeout(() => reject(new Error(`${message} never arrived`)), 10_000);
    stop = to.bus.subscribe(topic, (m) => {
      if (m !== message) return;
      clearTimeout(timer);
      resolve(performance.now() - start);
    });
  });
  try {
    await from.bus.publish(topic, message);
    return await heard;
  } finally {
    stop();
  }
}

/** Node A reaches Redis through a link the test cuts or freezes; node B directly, or not at all. */
async function behindLink(schema: string, bWithRedis: boolean) {
  const link = await cuttableLink(TEST_REDIS);
  const a = await openPostgresStores({ postgres: TEST_POSTGRES, redis: link.url }, { schema });
  const b = await openPostgresStores(
    { postgres: TEST_POSTGRES, ...(bWithRedis ? { redis: TEST_REDIS } : {}) },
    { schema },
  );
  const close = async () => {
    link.thaw();
    await Promise.all([a.close(), b.close()]);
    await link.close();
  };
  return { link, a, b, close };
}

describe('PostgreSQL backend: migrations', { skip: pgMissing }, () => {
  it('two nodes opening a new schema together both succeed, with one set of tables', async () => {
    const schema = throwawaySchema('migrate');
    after(() => schema.drop());
    const opened = await Promise.all([
      openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name }),
      openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name }),
    ]);
    try {
      const tables = await sql<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1
         ORDER BY table_name`,
        [schema.name],
      );
      assert.deepEqual(
        tables.map((t) => t.table_name),
        [
          'approvals',
          'baselines',
          'isolation',
          'revoked_agents',
          'revoked_tokens',
          'session_events',
          'store_migrations',
          'usage',
        ],
      );
      const versions = await sql<{ version: number }>(
        `SELECT version FROM ${schema.name}.store_migrations ORDER BY version`,
      );
      assert.deepEqual(
        versions.map((v) => v.version),
        MIGRATIONS.map((m) => m.version),
      );
      // Both nodes work on the same tables: a request created on one is answered on the other.
      const [a, b] = opened;
      const now = Date.now();
      await a.approvals.create({
        id: 'ap-1',
        binding: 'sha256:x',
        agent: 'agent',
        request: { action: 'invokeTool', resource: { type: 'Tool', id: 't' } },
        decisionId: 'd-1',
        policyVersion: 'v1',
        reasons: [],
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + MIN).toISOString(),
      });
      assert.equal(
        await b.approvals.settle('ap-1', {
          verdict: 'approved',
          approver: 'bob',
          at: new Date(now + 1),
          grantExpiresAt: new Date(now + MIN),
        }),
        true,
      );
      assert.equal(await a.approvals.consume('ap-1', new Date(now + 2)), true);
      assert.equal((await b.approvals.get('ap-1', new Date(now + 3)))?.status, 'used');
    } finally {
      await Promise.all(opened.map((s) => s.close()));
    }
  });

  it('opening again applies nothing twice; a schema migrated by a newer Cordon is refused', async () => {
    const schema = throwawaySchema('newer');
    after(() => schema.drop());
    await (await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name })).close();
    await (await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name })).close();
    const rows = await sql(`SELECT version FROM ${schema.name}.store_migrations`);
    assert.equal(rows.length, MIGRATIONS.length);
    await sql(`INSERT INTO ${schema.name}.store_migrations (version, name) VALUES (999, 'future')`);
    await assert.rejects(
      openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name }),
      /schema cordon_test_newer_\w+ is at version 999, newer than this Cordon knows \(\d+\): upgrade Cordon/,
    );
  });

  it('works in the schema storage.schema names (cordon.yaml)', async () => {
    const schema = throwawaySchema('configured');
    after(() => schema.drop());
    const s = await openPostgresStores({ postgres: TEST_POSTGRES, schema: schema.name });
    await s.close();
    const rows = await sql(`SELECT version FROM ${schema.name}.store_migrations`);
    assert.equal(rows.length, MIGRATIONS.length);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(
      openPostgresStores({ postgres: TEST_POSTGRES }, { schema: 'x"; DROP TABLE y; --' }),
      /PostgreSQL schema .*: use lower-case letters, digits and _/,
    );
  });
});

describe('PostgreSQL backend: cursors never skip a late commit', { skip: pgMissing }, () => {
  const schema = throwawaySchema('cursor');
  after(() => schema.drop());
  const event = {
    decisionId: 'd',
    time: 1,
    action: 'readFile',
    resource: 'File::"/a"',
    outcome: 'allow' as const,
    labels: ['pii'],
    destructive: false,
  };

  // A writer that drew its sequence number before another committed a larger one would let a
  // reader's cursor pass it: each write takes its key's lock first, and draws only once it
  // holds it. Shown by holding the lock from outside and looking at the waiting writer.
  for (const [what, lock, sequence, write] of [
    [
      'a session append',
      LOCK.session,
      'session_events_seq_seq',
      (s: Stores, key: string) => s.sessions.append(key, event),
    ],
    [
      'a usage record',
      LOCK.usage,
      'usage_seq_seq',
      (s: Stores, key: string) => s.usage.record([key, `${key}-user`], 10, new Date()),
    ],
  ] as const)
    it(`${what} waits for its key's lock before drawing its sequence number`, async () => {
      const s = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
      const holder = new pg.Client(postgresConfig(TEST_POSTGRES));
      await holder.connect();
      try {
        const key = `agent\u0000s-${randomUUID()}`;
        await write(s, key);
        const last = async () =>
          (
            await holder.query<{ v: string }>(
              `SELECT last_value AS v FROM ${schema.name}.${sequence}`,
            )
          ).rows[0]!.v;
        const lockId = lockKey(schema.name, key);
        await holder.query('SELECT pg_advisory_lock($1, $2)', [lock, lockId]);
        const drawnBefore = await last();
        let done = false;
        const writing = write(s, key).then(() => (done = true));
        await eventually('the writer waits for the lock', async () => {
          const r = await holder.query(
            `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
             AND classid = $1 AND objid = $2 AND objsubid = 2`,
            [lock >>> 0, lockId >>> 0],
          );
          return r.rowCount === 1;
        });
        assert.equal(await last(), drawnBefore, 'no sequence number drawn while waiting');
        assert.equal(done, false);
        await holder.query('SELECT pg_advisory_unlock($1, $2)', [lock, lockId]);
        await writing;
        assert.ok(Number(await last()) > Number(drawnBefore));
      } finally {
        await holder.end();
        await s.close();
      }
    });
});

describe('PostgreSQL backend: changes reach the other nodes', { skip: pgMissing }, () => {
  const schema = throwawaySchema('bus');
  after(() => schema.drop());

  it('through Redis pub/sub', { skip: noRedis }, async (t) => {
    const storage = { postgres: TEST_POSTGRES, redis: TEST_REDIS };
    const a = await openPostgresStores(storage, { schema: schema.name });
    const b = await openPostgresStores(storage, { schema: schema.name });
    try {
      assert.equal((await a.health()).redis, 'ok');
      const ms = await carries(a, b, 'isolation');
      t.diagnostic(`node A to node B through Redis: ${ms.toFixed(1)} ms`);
      await carries(b, a, 'revocation');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('through PostgreSQL NOTIFY without Redis', async (t) => {
    const a = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
    const b = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
    try {
      assert.equal((await a.health()).redis, undefined, 'no Redis configured, none reported');
      const ms = await carries(a, b, 'policy');
      t.diagnostic(`node A to node B through NOTIFY: ${ms.toFixed(1)} ms`);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('another schema hears nothing of this one', { skip: noRedis }, async () => {
    const other = throwawaySchema('bus_other');
    after(() => other.drop());
    const storage = { postgres: TEST_POSTGRES, redis: TEST_REDIS };
    const a = await openPostgresStores(storage, { schema: schema.name });
    const b = await openPostgresStores(storage, { schema: schema.name });
    const c = await openPostgresStores(storage, { schema: other.name });
    const heard: string[] = [];
    const stop = c.bus.subscribe('isolation', (m) => heard.push(m));
    try {
      await carries(a, b, 'isolation');
      // Redis delivers in publish order: once c hears its own later message, it would have
      // heard a's by then.
      const own = `own-${randomUUID()}`;
      await carries(c, c, 'isolation').then(() => c.bus.publish('isolation', own));
      await eventually('c hears its own message', async () => heard.includes(own));
      assert.deepEqual(
        heard.filter((m) => m !== own && !m.startsWith('m-')),
        [],
      );
      assert.equal(heard.filter((m) => m.startsWith('m-')).length, 1, 'only its own carries()');
    } finally {
      stop();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it(
    'Redis lost mid-run: health says so, changes go through PostgreSQL, and Redis returns',
    { skip: noRedis },
    async () => {
      const { link, a, b, close } = await behindLink(schema.name, true);
      try {
        assert.equal((await a.health()).redis, 'ok');
        await link.cut();
        await eventually('A reports Redis down', async () =>
          /^down: .*\(notifications via PostgreSQL\)$/.test((await a.health()).redis ?? ''),
        );
        assert.equal((await a.health()).postgres, 'ok');
        await carries(a, b, 'isolation');
        // b's Redis is up, but its message also goes through PostgreSQL, which a hears.
        await carries(b, a, 'revocation');
        await link.restore();
        await eventually('A reports Redis back', async () => (await a.health()).redis === 'ok');
        await carries(a, b, 'isolation');
        await carries(b, a, 'revocation');
      } finally {
        await close();
      }
    },
  );

  it(
    'Redis hanging: health says so and changes still arrive through PostgreSQL',
    { skip: noRedis },
    async () => {
      const { link, a, b, close } = await behindLink(schema.name, false);
      try {
        assert.equal((await a.health()).redis, 'ok');
        link.freeze();
        assert.match(
          (await a.health()).redis ?? '',
          /^down: .*timed out.*\(notifications via PostgreSQL\)$/i,
        );
        await carries(a, b, 'isolation');
        await carries(b, a, 'isolation');
        link.thaw();
        await eventually('Redis answers again', async () => (await a.health()).redis === 'ok');
      } finally {
        await close();
      }
    },
  );

  it(
    'Redis unreachable at start: the node opens, says so, notifies through PostgreSQL, and subscribes once Redis is there',
    { skip: noRedis },
    async () => {
      const link = await cuttableLink(TEST_REDIS);
      await link.cut();
      const a = await openPostgresStores(
        { postgres: TEST_POSTGRES, redis: link.url },
        { schema: schema.name },
      );
      const b = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
      const probe = new Redis(TEST_REDIS);
      try {
        const h = await a.health();
        assert.match(
          h.redis ?? '',
          new RegExp(
            `^down: ${link.url.replace(/[./]/g, '\\$&')} .*ECONNREFUSED.*\\(notifications via PostgreSQL\\)$`,
          ),
        );
        assert.equal(h.postgres, 'ok');
        await carries(a, b, 'baseline');
        await carries(b, a, 'baseline');
        await link.restore();
        await eventually('A reports Redis up', async () => (await a.health()).redis === 'ok');
        const channel = `cordon:${schema.name}:isolation`;
        await eventually('A subscribed in Redis', async () => {
          const [, n] = (await probe.pubsub('NUMSUB', channel)) as [string, number];
          return n === 1;
        });
      } finally {
        probe.disconnect();
        await Promise.all([a.close(), b.close()]);
        await link.close();
      }
    },
  );
});

describe('PostgreSQL backend: PostgreSQL unreachable or lost', { skip: pgMissing }, () => {
  const schema = throwawaySchema('failure');
  after(() => schema.drop());

  it('opening against a closed port rejects, naming the server', async () => {
    const port = await freePort();
    await assert.rejects(
      openPostgresStores({ postgres: `postgres://cordon:secret@127.0.0.1:${port}/test` }),
      (e: Error) => {
        assert.match(
          e.message,
          new RegExp(
            `^PostgreSQL at postgres://cordon:\\*\\*\\*@127\\.0\\.0\\.1:${port}/test is unreachable \\(.*ECONNREFUSED.*\\): opening the store failed$`,
          ),
        );
        assert.ok(!e.message.includes('secret'), 'the password is not shown');
        return true;
      },
    );
  });

  it('lost mid-run: operations reject with the reason and health says so; it recovers when the server returns', async () => {
    const link = await cuttableLink(TEST_POSTGRES);
    const s = await openPostgresStores({ postgres: link.url }, { schema: schema.name });
    try {
      const key = `k-${randomUUID()}`;
      const event = {
        decisionId: 'd-1',
        time: 1,
        action: 'readFile',
        resource: 'File::"/a"',
        outcome: 'allow' as const,
        labels: [],
        destructive: false,
      };
      await s.sessions.append(key, event);
      await link.cut();
      const unreachable = /PostgreSQL at postgres:\/\/.* is unreachable \(.+\): .+ failed$/;
      await assert.rejects(s.sessions.append(key, event), unreachable);
      await assert.rejects(s.sessions.events(key, { after: 0, limit: 10 }), unreachable);
      await assert.rejects(s.approvals.findGrant('sha256:x', new Date()), unreachable);
      await assert.rejects(s.isolation.active(new Date()), unreachable);
      await assert.rejects(s.revocations.changes(0), unreachable);
      await assert.rejects(s.bus.publish('isolation', 'x'), unreachable);
      const h = await s.health();
      assert.match(h.postgres ?? '', /^down: PostgreSQL at .* is unreachable/);
      assert.match(h.notifications ?? '', /^down: PostgreSQL listener/);

      await link.restore();
      await eventually('health back to ok', async () =>
        Object.values(await s.health()).every((v) => v === 'ok'),
      );
      await s.sessions.append(key, event);
      assert.equal((await s.sessions.events(key, { after: 0, limit: 10 })).events.length, 2);
    } finally {
      await s.close();
      await link.close();
    }
  });

  it('hanging mid-run (nothing answers, nothing closes): operations fail after the query timeout, health says so, and it recovers', async () => {
    const link = await cuttableLink(TEST_POSTGRES);
    const s = await openPostgresStores(
      { postgres: link.url },
      { schema: schema.name, queryTimeoutMs: 1000, connectTimeoutMs: 1000 },
    );
    try {
      await s.isolation.active(new Date());
      link.freeze();
      await assert.rejects(
        s.isolation.active(new Date()),
        /PostgreSQL at postgres:\/\/.* is unreachable \(.*timeout.*\): reading isolation state failed/i,
      );
      await assert.rejects(s.approvals.consume('x', new Date()), /is unreachable \(.*timeout/i);
      assert.match((await s.health()).postgres ?? '', /^down: PostgreSQL at /);
      await eventually('the hung listener noticed', async () =>
        /^down: PostgreSQL listener/.test((await s.health()).notifications ?? ''),
      );
      link.thaw();
      await eventually('health back to ok', async () =>
        Object.values(await s.health()).every((v) => v === 'ok'),
      );
      assert.deepEqual(await s.isolation.active(new Date(0)), []);
    } finally {
      link.thaw();
      await s.close();
      await link.close();
    }
  });

  it('connections ended by the server (pg_terminate_backend) are replaced: reads, writes and notifications go on', async () => {
    const a = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
    const b = await openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name });
    try {
      // Several pooled connections, so more than one is ended.
      await Promise.all([1, 2, 3, 4].map(() => a.isolation.active(new Date())));
      const ended = await sql<{ ended: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()`,
        [`cordon:${schema.name}`],
      );
      assert.ok(ended.length >= 3, `ended ${ended.length} connections`);
      // Reads are retried once on a fresh connection; every part comes back by itself.
      assert.deepEqual(await a.isolation.active(new Date(0)), []);
      await eventually(
        'health back to ok',
        async () =>
          Object.values(await a.health()).every((v) => v === 'ok') &&
          Object.values(await b.health()).every((v) => v === 'ok'),
      );
      await a.baselines.put(`s-${randomUUID()}`, '{}', 0);
      await carries(a, b, 'isolation');
      await carries(b, a, 'isolation');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
