// npm run bench (isolation part): what isolation costs a decision, and how long a change takes
// to refuse the next action on another node.
//
//   lookup       the isolation stage's in-memory lookup (statesFor + merge) with 10,000 agents
//                isolated, for an agent that is not isolated and for one that is; and a whole
//                in-process decision with and without the isolation stage (same engine, same set)
//   to refusal   node A applies an isolation; node B (its own IsolationService on the same store)
//                decides the agent's next action until it is refused: embedded SQLite store with
//                the in-process bus, and PostgreSQL (NOTIFY; with Redis when it answers) when the
//                test servers answer

import { randomUUID } from 'node:crypto';
import { Engine } from '../core/engine.js';
import { mergeIsolation } from '../core/isolation.js';
import { isolationStage } from '../core/stages/isolation.js';
import type { ActionRequest } from '../core/types.js';
import { IsolationService } from '../isolation/service.js';
import { SqliteIsolationStore } from '../store/sqlite/isolation.js';
import { LocalChangeBus } from '../store/sqlite/bus.js';
import { openPostgresStores } from '../store/postgres/index.js';
import type { ChangeBus, IsolationStore } from '../store/ports.js';
import { agent, compileOk, entities, tempDir } from '../testing/fixtures.js';
import {
  postgresMissing,
  redisMissing,
  TEST_POSTGRES,
  TEST_REDIS,
  throwawaySchema,
} from '../testing/services.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const AGENTS = 10_000;

const row = (what: string, xs: number[], unit: 'µs' | 'ms') => {
  const { p50, p99 } = percentiles(xs);
  console.log(`  ${what.padEnd(72)} p50 ${p50.toFixed(2)} ${unit}  p99 ${p99.toFixed(2)} ${unit}`);
};

const set = compileOk({
  'entities.json': entities([agent('bench-agent'), agent('isolated-agent')]),
  'p.cedar': '@id("all") permit(principal, action, resource);',
});
const request = (who: string): ActionRequest => ({
  agent: who,
  action: 'connectNetwork',
  resource: { type: 'NetworkDestination', id: 'api.example.com:443' },
});

async function lookup(): Promise<void> {
  const store = new SqliteIsolationStore(await tempDir('cordon-bench-iso-'));
  const setup = await IsolationService.open({ store });
  const at = new Date().toISOString();
  for (let i = 0; i < AGENTS; i++)
    await store.put({
      agent: `agent-${i}`,
      measures: { revokedTools: [`srv/tool-${i}`] },
      reason: 'bench',
      by: 'bench',
      at,
    });
  await store.put({
    agent: 'isolated-agent',
    measures: { egress: 'none' },
    reason: 'bench',
    by: 'bench',
    at,
  });
  setup.close();
  const service = await IsolationService.open({ store, refreshMs: 3_600_000 });
  console.log(`isolation lookup, ${AGENTS} agents isolated (in memory)`);
  const n = quick ? 50_000 : 500_000;
  for (const who of ['bench-agent', 'isolated-agent']) {
    const per: number[] = [];
    const now = new Date();
    for (let r = 0; r < 50; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n / 50; i++) mergeIsolation(service.statesFor(who, 'alice', 's1', now));
      per.push(Number(process.hrtime.bigint() - t0) / 1000 / (n / 50));
    }
    row(
      `statesFor + merge, ${who === 'bench-agent' ? 'not isolated' : 'isolated'} (per lookup)`,
      per,
      'µs',
    );
  }
  const plain = new Engine({ policies: { current: () => set } });
  const isolating = new Engine({
    policies: { current: () => set },
    stages: [isolationStage(service)],
  });
  const m = quick ? 2_000 : 20_000;
  for (const [label, engine, who] of [
    ['decision without the isolation stage', plain, 'bench-agent'],
    ['decision with it, agent not isolated', isolating, 'bench-agent'],
    ['decision with it, agent isolated (refused)', isolating, 'isolated-agent'],
  ] as const) {
    const r = request(who);
    for (let i = 0; i < 500; i++) await engine.decide(r);
    const xs: number[] = [];
    for (let i = 0; i < m; i++) {
      const t0 = process.hrtime.bigint();
      await engine.decide(r);
      xs.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    row(label, xs, 'µs');
  }
  service.close();
  store.close();
}

/** Apply on A, then decide on B until the agent's next action is refused. */
async function toRefusal(
  label: string,
  stores: { a: IsolationStore; b: IsolationStore; busA: ChangeBus; busB: ChangeBus },
): Promise<void> {
  const a = await IsolationService.open({ store: stores.a, bus: stores.busA });
  const b = await IsolationService.open({ store: stores.b, bus: stores.busB });
  const engine = new Engine({ policies: { current: () => set }, stages: [isolationStage(b)] });
  const r = request('bench-agent');
  const n = quick ? 20 : 100;
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await a.apply({
      agent: 'bench-agent',
      measures: { egress: 'none' },
      reason: randomUUID(),
      by: 'bench',
    });
    while ((await engine.decide(r)).decision !== 'deny') await new Promise((x) => setImmediate(x));
    ms.push(performance.now() - t0);
    await a.release({ agent: 'bench-agent' }, 'bench');
    while ((await engine.decide(r)).decision !== 'allow') await new Promise((x) => setImmediate(x));
  }
  row(`${label}: apply on A → first refused decision on B`, ms, 'ms');
  a.close();
  b.close();
}

async function main(): Promise<void> {
  await lookup();
  console.log('isolation command to the first refused action on another node');
  const dir = await tempDir('cordon-bench-iso-nodes-');
  const bus = new LocalChangeBus();
  const [sa, sb] = [new SqliteIsolationStore(dir), new SqliteIsolationStore(dir)];
  await toRefusal('embedded (SQLite, in-process bus)', { a: sa, b: sb, busA: bus, busB: bus });
  sa.close();
  sb.close();
  const why = await postgresMissing();
  if (why) {
    console.log(`  PostgreSQL: skipped (${why})`);
    return;
  }
  const schema = throwawaySchema('isobench');
  try {
    const noRedis = await redisMissing();
    const storage = noRedis
      ? { postgres: TEST_POSTGRES }
      : { postgres: TEST_POSTGRES, redis: TEST_REDIS };
    const a = await openPostgresStores(storage, { schema: schema.name });
    const b = await openPostgresStores(storage, { schema: schema.name });
    await toRefusal(noRedis ? 'PostgreSQL (NOTIFY)' : 'PostgreSQL + Redis', {
      a: a.isolation,
      b: b.isolation,
      busA: a.bus,
      busB: b.bus,
    });
    await Promise.all([a.close(), b.close()]);
  } finally {
    await schema.drop();
  }
}

await main();
