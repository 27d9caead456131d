// Three `cordon serve` processes on one PostgreSQL schema and one Redis (docs/deploy.md): what a
// team running several stateless nodes behind a load balancer relies on. A session chain started
// on one node is enforced on another, an approval granted through one node is used on another,
// an isolation applied on one refuses the next action on the others, and killing a node with
// SIGKILL mid-load (the audit sequencer among them) loses no acknowledged decision: a surviving
// node takes over sequencing and the one shared log verifies.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { postgresConfig } from '../store/postgres/url.js';
import { tempDir } from '../testing/fixtures.js';
import { runCli } from '../testing/cli.js';
import { startServeNode, type ServeNode } from '../testing/serve-node.js';
import {
  postgresMissing,
  redisMissing,
  TEST_POSTGRES,
  TEST_REDIS,
  throwawaySchema,
} from '../testing/services.js';

const skip = (await postgresMissing()) ?? (await redisMissing());
if (skip) console.log(`# skipping the three-node cluster test: ${skip}`);

type Node = ServeNode;

interface Decision {
  decision: string;
  decisionId: string;
  reasons: { policy: string; message?: string }[];
  approval?: { id: string; status: string };
}

const schema = throwawaySchema('cluster');
const nodes: Node[] = [];
let keyDir = '';

/** Starts one node on the shared schema and key; resolves once it listens. */
async function startNode(name: string): Promise<Node> {
  const node = await startServeNode(name, {
    storage: { postgres: TEST_POSTGRES, redis: TEST_REDIS, schema: schema.name },
    // Every node signs with the one key of the shared log (only the sequencer uses it).
    signingKey: join(keyDir, 'audit.key'),
    config: { approvals: { approvers: 'trusted' } },
  });
  nodes.push(node);
  return node;
}

async function call<T>(
  node: Node,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const decide = async (node: Node, request: unknown) => {
  const r = await call<Decision>(node, 'POST', '/v1/decide', request);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

const health = async (node: Node) =>
  (await call<Record<string, unknown>>(node, 'GET', '/healthz')).body;

/** Polls until `check` holds (or the time is up); returns how long it took in ms. */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function sql<T extends pg.QueryResultRow>(text: string, args: unknown[] = []): Promise<T[]> {
  const c = new pg.Client(postgresConfig(TEST_POSTGRES));
  await c.connect();
  try {
    return (await c.query<T>(text, args)).rows;
  } finally {
    await c.end();
  }
}

describe('three cordon serve nodes on one PostgreSQL and Redis', { skip }, () => {
  before(async () => {
    keyDir = await tempDir('cordon-cluster-key-');
    // The first node creates the log (its origin) and the shared signing key; then the others.
    await startNode('a');
    await Promise.all([startNode('b'), startNode('c')]);
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await schema.drop();
  });

  it('reports in /healthz that every node runs on the shared stores', async () => {
    for (const n of nodes) {
      const h = await health(n);
      assert.deepEqual(
        {
          postgres: (h.storage as Record<string, string>).postgres,
          redis: (h.storage as Record<string, string>).redis,
        },
        { postgres: 'ok', redis: 'ok' },
        `node ${n.name}: ${JSON.stringify(h)}`,
      );
    }
  });

  it('enforces a session chain started on one node on another', async () => {
    const [a, b] = nodes as [Node, Node];
    const read = await decide(a, {
      agent: 'support-bot',
      session: 'chain-1',
      action: 'readData',
      resource: { type: 'Field', id: 'crm/customers.ssn' },
    });
    assert.equal(read.decision, 'allow', JSON.stringify(read.reasons));
    const post = await decide(b, {
      agent: 'support-bot',
      session: 'chain-1',
      action: 'sendExternal',
      resource: { type: 'NetworkDestination', id: 'hooks.example.com:443' },
    });
    assert.equal(post.decision, 'deny');
    assert.ok(
      post.reasons.some((r) => r.policy === 'no-exfiltration-after-sensitive-read'),
      JSON.stringify(post.reasons),
    );
  });

  it('uses on one node an approval granted through another, once', async () => {
    const [a, b, c] = nodes as [Node, Node, Node];
    const wire = {
      agent: 'ledger-bot',
      user: 'alice',
      session: 'wire-1',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      input: { amount: 100, to: 'acct-1' },
    };
    const asked = await decide(a, wire);
    assert.equal(asked.decision, 'require_approval', JSON.stringify(asked.reasons));
    const id = asked.approval!.id;
    const yes = await call<{ error?: string }>(
      a,
      'POST',
      `/v1/approvals/${id}/approve`,
      { approver: 'alice' },
      a.admin,
    );
    assert.equal(yes.status, 200, yes.body.error);
    assert.equal((await decide(b, wire)).decision, 'allow', 'the grant is used on node b');
    assert.equal(
      (await decide(c, wire)).decision,
      'require_approval',
      'a one-use grant used on node b is gone on node c',
    );
  });

  it('refuses on every node the next action of an agent isolated through one', async () => {
    const [, b, c] = nodes as [Node, Node, Node];
    const out = {
      agent: 'support-bot',
      session: 'iso-1',
      action: 'sendExternal',
      resource: { type: 'NetworkDestination', id: 'dashboard.internal:443' },
    };
    assert.equal((await decide(c, out)).decision, 'allow');
    const applied = await call<{ error?: string }>(
      b,
      'POST',
      '/v1/isolation',
      { agent: 'support-bot', measures: { egress: 'none' }, reason: 'cluster test' },
      b.admin,
    );
    assert.equal(applied.status, 201, applied.body.error);
    const took = await until('the isolation refuses on node c', async () => {
      const d = await decide(c, out);
      return d.decision === 'deny' && d.reasons.some((r) => r.policy === 'cordon/isolation');
    });
    console.log(`# isolation applied on node b refused on node c after ${took} ms`);
    const released = await call<{ error?: string }>(
      b,
      'POST',
      '/v1/isolation/release',
      { agent: 'support-bot', reason: 'cluster test done' },
      b.admin,
    );
    assert.equal(released.status, 200, released.body.error);
    await until('the release reaches node c', async () => {
      return (await decide(c, out)).decision === 'allow';
    });
  });

  it('loses no acknowledged decision when the sequencer is killed mid-load, and the log verifies', async () => {
    const sequencer = await (async () => {
      for (const n of nodes) if ((await health(n)).auditSequencer === true) return n;
      return undefined;
    })();
    assert.ok(sequencer, 'one node reports itself the audit sequencer in /healthz');
    const acknowledged: string[] = [];
    let stop = false;
    let killedAt = 0;
    const worker = async (node: Node, w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await fetch(`${node.url}/v1/decide`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              agent: 'analyst-bot',
              session: `load-${node.name}-${w}-${i}`,
              action: 'readFile',
              resource: { type: 'FilePath', id: `/workspace/data/${i}.csv` },
            }),
          });
          if (res.status === 200) acknowledged.push(((await res.json()) as Decision).decisionId);
        } catch {
          if (node === sequencer) return; // killed: what it never answered was not acknowledged
          throw new Error(`node ${node.name} stopped answering`);
        }
      }
    };
    const load = nodes.flatMap((n) => [0, 1, 2].map((w) => worker(n, w)));
    const loadStart = Date.now();
    await until('some load is acknowledged', async () => acknowledged.length >= 60, 60_000);
    console.log(`# 60 decisions acknowledged across 3 nodes in ${Date.now() - loadStart} ms`);
    sequencer.proc.kill('SIGKILL');
    killedAt = Date.now();
    await once(sequencer.proc, 'exit');
    const survivors = nodes.filter((n) => n !== sequencer);
    const takeover = await until('a surviving node takes over sequencing', async () => {
      for (const n of survivors) if ((await health(n)).auditSequencer === true) return true;
      return false;
    });
    console.log(`# a new sequencer took over ${takeover} ms after the SIGKILL`);
    await until('load continues on the survivors', async () => Date.now() - killedAt > 500);
    stop = true;
    await Promise.all(load);

    await until('every acknowledged decision is sequenced into the log', async () => {
      const rows = await sql<{ n: string }>(
        `SELECT count(*) AS n FROM ${schema.name}.audit_records WHERE decision_id = ANY($1)`,
        [acknowledged],
      );
      return Number(rows[0]!.n) === acknowledged.length;
    });
    // And signed: verify needs a checkpoint covering them, which the new sequencer signs.
    const total = (
      await sql<{ n: string }>(`SELECT count(*) AS n FROM ${schema.name}.audit_records`)
    )[0]!.n;
    const verify = async () =>
      runCli([
        'audit',
        'verify',
        '--postgres',
        TEST_POSTGRES,
        '--schema',
        schema.name,
        '--key',
        sequencer.verifierKey,
        '--min-size',
        total,
      ]);
    let result = await verify();
    await until('a checkpoint covers the log', async () => {
      result = await verify();
      return result.status === 0;
    });
    assert.match(result.stdout, /^ok: \d+ records/m);
    console.log(
      `# ${acknowledged.length} acknowledged decisions, all in the log: ${result.stdout.trim()}`,
    );
  });
});
