// npm run bench (store part): what the PostgreSQL backend costs the operations a decision
// waits for, one at a time against the configured servers (CORDON_TEST_POSTGRES,
// CORDON_TEST_REDIS): an approval created then used (lookup + consume), a session event
// appended then read back by cursor, the revocation and isolation reads, and a change
// published on one node until another node hears it. Skipped, with the reason, without servers.

import { randomUUID } from 'node:crypto';
import { openPostgresStores } from '../store/postgres/index.js';
import type { Stores } from '../store/ports.js';
import {
  TEST_POSTGRES,
  TEST_REDIS,
  postgresMissing,
  redisMissing,
  throwawaySchema,
} from '../testing/services.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 200 : 2000;
const MIN = 60_000;

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(50, n); i++) await op(-1 - i); // warm the pool and plans
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    ms.push(performance.now() - t0);
  }
  return ms;
}

const row = (what: string, ms: number[]) => {
  const { p50, p99 } = percentiles(ms);
  console.log(`  ${what.padEnd(52)} p50 ${p50.toFixed(2)} ms  p99 ${p99.toFixed(2)} ms`);
};

async function measure(label: string, a: Stores, b: Stores): Promise<void> {
  console.log(`${label} (${N} each, sequential)`);
  const now = Date.now();
  const run = randomUUID().slice(0, 8);
  const approval = (i: number) => ({
    id: `${run}-${i}`,
    binding: `sha256:${run}-${i}`,
    agent: 'bench-agent',
    user: 'alice',
    request: { action: 'invokeTool', resource: { type: 'Tool', id: 'erp/wire' }, input: { i } },
    decisionId: `d-${run}-${i}`,
    policyVersion: 'v1',
    reasons: [],
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 10 * MIN).toISOString(),
  });
  row(
    'approval request created (require_approval)',
    await timed(N, (i) => a.approvals.create(approval(i))),
  );
  for (let i = 0; i < N; i++)
    await b.approvals.settle(`${run}-${i}`, {
      verdict: 'approved',
      approver: 'bob',
      at: new Date(now + 1),
      grantExpiresAt: new Date(now + 10 * MIN),
    });
  row(
    'approval used: findGrant + consume',
    await timed(N, async (i) => {
      if (i < 0) return a.approvals.findGrant('sha256:none', new Date(now + 2));
      const g = await a.approvals.findGrant(`sha256:${run}-${i}`, new Date(now + 2));
      if (!g || !(await a.approvals.consume(g.id, new Date(now + 2))))
        throw new Error('grant not usable');
    }),
  );
  row(
    'approval lookup, none granted (every decision)',
    await timed(N, () => a.approvals.findGrant(`sha256:${run}-none`, new Date(now + 2))),
  );
  const key = `bench\u0000${run}`;
  let cursor = 0;
  const event = (i: number) => ({
    decisionId: `d-${i}`,
    time: now + i,
    action: 'readFile',
    resource: `File::"/data/${i}"`,
    outcome: 'allow' as const,
    labels: i % 10 ? [] : ['pii'],
    destructive: false,
  });
  row(
    'session event appended + read back by cursor',
    await timed(N, async (i) => {
      await a.sessions.append(key, event(i));
      const r = await b.sessions.events(key, { after: cursor, limit: 1000 });
      if (r.events.length === 0) throw new Error('event not read back');
      cursor = r.cursor;
    }),
  );
  row(
    'session events read, nothing new',
    await timed(N, () => b.sessions.events(key, { after: cursor, limit: 1000 })),
  );
  const revCursor = (await a.revocations.changes(0)).cursor;
  row(
    'revocation changes read, nothing new',
    await timed(N, () => a.revocations.changes(revCursor)),
  );
  row('isolation states in force read', await timed(N, () => a.isolation.active(new Date())));
  row(
    'change published on node A, heard on node B',
    await timed(quick ? 50 : 300, async () => {
      const message = randomUUID();
      let stop = () => {};
      const heard = new Promise<void>((resolve) => {
        stop = b.bus.subscribe('isolation', (m) => m === message && resolve());
      });
      await a.bus.publish('isolation', message);
      await heard;
      stop();
    }),
  );
}

async function main() {
  const why = await postgresMissing();
  if (why) {
    console.log(`store bench skipped: ${why}`);
    return;
  }
  const schema = throwawaySchema('bench');
  try {
    const storage = { postgres: TEST_POSTGRES };
    let a = await openPostgresStores(storage, { schema: schema.name });
    let b = await openPostgresStores(storage, { schema: schema.name });
    await measure('PostgreSQL, notifications by NOTIFY', a, b);
    await Promise.all([a.close(), b.close()]);
    const noRedis = await redisMissing();
    if (noRedis) console.log(`with Redis: skipped (${noRedis})`);
    else {
      const withRedis = { ...storage, redis: TEST_REDIS };
      a = await openPostgresStores(withRedis, { schema: schema.name });
      b = await openPostgresStores(withRedis, { schema: schema.name });
      await measure('PostgreSQL + Redis', a, b);
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await schema.drop();
  }
}

await main();
