// Nodes telling each other their policy version: a node serving another version than its peers
// is reported until it catches up, a silent peer is forgotten, garbage on the bus is ignored,
// and the same works between two nodes on real PostgreSQL and Redis (skipped, with the reason,
// where they are not running; required under CORDON_REQUIRE_SERVICES=1).

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalChangeBus } from '../store/sqlite/bus.js';
import { openPostgresStores } from '../store/postgres/index.js';
import type { ChangeBus } from '../store/ports.js';
import { serviceSkips, TEST_POSTGRES, TEST_REDIS, throwawaySchema } from '../testing/services.js';
import { PolicyVersionGossip } from './version-gossip.js';

const V1 = `sha256:${'1'.repeat(64)}`;
const V2 = `sha256:${'2'.repeat(64)}`;

function node(bus: ChangeBus, name: string, version: { v: string }, now = Date.now) {
  return new PolicyVersionGossip({ bus, node: name, current: () => version.v, now });
}

/** Waits (bounded) until `check` holds: messages cross a real bus asynchronously. */
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`never happened: ${what}`);
}

describe('policy version gossip', () => {
  it('reports the peers serving another version, until they catch up', async () => {
    const bus = new LocalChangeBus();
    const [va, vb, vc] = [{ v: V1 }, { v: V1 }, { v: V2 }];
    const a = await node(bus, 'a', va).start();
    const b = await node(bus, 'b', vb).start();
    const c = await node(bus, 'c', vc).start();
    try {
      assert.equal(a.status().peers, 2);
      assert.deepEqual(
        a.status().differing.map((d) => [d.node, d.version]),
        [['c', V2]],
      );
      assert.deepEqual(
        c.status().differing.map((d) => d.node),
        ['a', 'b'],
      );
      // a and b reload the new version and say so: nobody differs any more.
      va.v = V2;
      vb.v = V2;
      await a.publish();
      await b.publish();
      for (const n of [a, b, c]) assert.deepEqual(n.status().differing, [], n.node);
    } finally {
      for (const n of [a, b, c]) n.close();
    }
  });

  it('forgets a peer not heard for three heartbeats, and ignores garbage on the bus', async () => {
    const bus = new LocalChangeBus();
    let clock = 1_000_000;
    const now = () => clock;
    const a = await new PolicyVersionGossip({
      bus,
      node: 'a',
      current: () => V1,
      heartbeatMs: 1000,
      now,
    }).start();
    try {
      await bus.publish('policy', JSON.stringify({ node: 'gone', version: V2 }));
      await bus.publish('policy', 'not json');
      await bus.publish('policy', JSON.stringify({ node: 7, version: [] }));
      assert.deepEqual(
        a.status().differing.map((d) => d.node),
        ['gone'],
      );
      clock += 3001;
      assert.deepEqual(a.status(), { node: 'a', peers: 0, differing: [] });
    } finally {
      a.close();
    }
  });

  it('never throws when the bus cannot publish', async () => {
    const errors: Error[] = [];
    const broken: ChangeBus = {
      publish: () => Promise.reject(new Error('bus down')),
      subscribe: () => () => {},
    };
    const a = await new PolicyVersionGossip({
      bus: broken,
      current: () => V1,
      onError: (e) => errors.push(e),
    }).start();
    a.close();
    assert.deepEqual(
      errors.map((e) => e.message),
      ['bus down'],
    );
  });
});

describe('policy version gossip between nodes on PostgreSQL and Redis', async () => {
  const skip = (await serviceSkips()).postgresAndRedis;
  const schema = throwawaySchema('gossip');
  after(() => schema.drop());

  it('a node serving another version is seen by its peer, and the peer sees it catch up', async (t) => {
    if (skip) return t.skip(skip);
    const storage = { postgres: TEST_POSTGRES, redis: TEST_REDIS };
    const s1 = await openPostgresStores(storage, { schema: schema.name });
    const s2 = await openPostgresStores(storage, { schema: schema.name });
    const [va, vb] = [{ v: V1 }, { v: V2 }];
    const a = await node(s1.bus, 'node-a', va).start();
    const b = await node(s2.bus, 'node-b', vb).start();
    try {
      await eventually(() => a.status().differing[0]?.version === V2, 'a hears b on V2');
      await eventually(() => b.status().differing[0]?.version === V1, 'b hears a on V1');
      va.v = V2;
      await a.publish();
      await eventually(
        () => b.status().peers === 1 && b.status().differing.length === 0,
        'b sees a catch up',
      );
    } finally {
      a.close();
      b.close();
      await s1.close();
      await s2.close();
    }
  });
});

describe('cordon serve nodes on one PostgreSQL report a peer on another policy version', async () => {
  const skip = (await serviceSkips()).postgresAndRedis;
  const schema = throwawaySchema('gossip_serve');
  after(() => schema.drop());

  it('shows the differing peer in /healthz, and hears only its own cluster', async (t) => {
    if (skip) return t.skip(skip);
    const { configSchema } = await import('../config/config.js');
    const { startServer } = await import('../runtime/start.js');
    const { EXAMPLE_POLICIES, tempDir } = await import('../testing/fixtures.js');
    const { cp, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { pino } = await import('pino');
    const changed = await tempDir();
    await cp(EXAMPLE_POLICIES, changed, { recursive: true });
    await writeFile(
      join(changed, 'extra.cedar'),
      'forbid(principal, action, resource) when { false };\n',
    );
    const start = async (policies: string) =>
      startServer(
        configSchema.parse({
          policies,
          data: await tempDir(),
          port: 0,
          storage: { postgres: TEST_POSTGRES, redis: TEST_REDIS, schema: schema.name },
          // Not what this is about (a shared log needs one signing key for both nodes).
          audit: { enabled: false },
        }),
        pino({ level: 'silent' }),
      );
    const health = async (url: string) =>
      (await (await fetch(`${url}/healthz`)).json()) as {
        policyVersion: string;
        policyPeers?: { peers: number; differing: { version: string }[] };
      };
    const a = await start(EXAMPLE_POLICIES);
    const b = await start(changed).catch(async (e: unknown) => {
      await a.close();
      throw e;
    });
    try {
      const vb = (await health(b.url)).policyVersion;
      let seen: Awaited<ReturnType<typeof health>> | undefined;
      await eventually(async () => {
        seen = await health(a.url);
        return seen.policyPeers?.differing[0]?.version === vb;
      }, 'node a reports node b on another version');
      assert.notEqual(seen!.policyVersion, vb);
      assert.equal(seen!.policyPeers?.peers, 1, 'only the node of its own cluster (schema)');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
