// npm run bench (cluster part): decisions/s and latency of `cordon serve` with every decision
// recorded, on the embedded stores (one node) against the PostgreSQL + Redis backend with one
// node and with three nodes sharing one schema, in the same run. Each node is its own process;
// the load generator (autocannon, one instance per node) runs here. On a 2-core machine three
// nodes and the generator share the cores, so read the three-node row as "what sharing costs",
// not as scaling. Skipped, with the reason, without the servers.

import autocannon from 'autocannon';
import { join } from 'node:path';
import { tempDir } from '../testing/fixtures.js';
import { startServeNode, type ServeNode } from '../testing/serve-node.js';
import {
  postgresMissing,
  redisMissing,
  TEST_POSTGRES,
  TEST_REDIS,
  throwawaySchema,
} from '../testing/services.js';

const quick = process.argv.includes('--quick');
const DURATION = quick ? 3 : 10;
const CONNECTIONS = 16;

/** A decision every node allows, in a session of its own per connection-free request. */
const BODY = JSON.stringify({
  agent: 'analyst-bot',
  session: 'bench',
  action: 'readFile',
  resource: { type: 'FilePath', id: '/workspace/data/q3.csv' },
});

interface Row {
  what: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** One autocannon per node, at once; the slowest node's latencies, the sum of the rates. */
async function load(what: string, nodes: ServeNode[]): Promise<Row> {
  const results = await Promise.all(
    nodes.map((n) =>
      autocannon({
        url: `${n.url}/v1/decide`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        connections: Math.max(1, Math.round(CONNECTIONS / nodes.length)),
        duration: DURATION,
      }),
    ),
  );
  return {
    what,
    rps: results.reduce((s, r) => s + r.requests.average, 0),
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((s, r) => s + r.errors + r.non2xx, 0),
  };
}

async function main(): Promise<void> {
  const skip = (await postgresMissing()) ?? (await redisMissing());
  const rows: Row[] = [];
  const embedded = await startServeNode('embedded');
  try {
    rows.push(await load('embedded (SQLite), 1 node', [embedded]));
  } finally {
    await embedded.stop();
  }
  if (skip) {
    console.log(`cluster bench: PostgreSQL rows skipped: ${skip}`);
  } else {
    const keyDir = await tempDir('cordon-bench-key-');
    for (const count of [1, 3]) {
      const schema = throwawaySchema(`bench${count}`);
      const nodes: ServeNode[] = [];
      try {
        const storage = { postgres: TEST_POSTGRES, redis: TEST_REDIS, schema: schema.name };
        const signingKey = join(keyDir, `audit-${count}.key`);
        nodes.push(await startServeNode('n0', { storage, signingKey }));
        for (let i = 1; i < count; i++)
          nodes.push(await startServeNode(`n${i}`, { storage, signingKey }));
        rows.push(await load(`PostgreSQL + Redis, ${count} node${count > 1 ? 's' : ''}`, nodes));
      } finally {
        await Promise.all(nodes.map((n) => n.stop()));
        await schema.drop();
      }
    }
  }
  console.log(
    `\ncordon serve, /v1/decide with audit on (sync full), ${CONNECTIONS} connections in all, ${DURATION} s`,
  );
  console.log('| backend | decisions/s | p50 ms | p99 ms | errors |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(`| ${r.what} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} |`);
}

await main();
