// npm run bench: what behavioral baselines add to a decision, with 10,000 agents baselined
// (each about 60 learned actions over its tools, destinations and paths, in enforce mode so
// every decision is assessed): the baseline stage alone per call (observe + assess from the
// cache), learning one allowed action, a whole in-process decision with and without the stage,
// and the heap each cached baseline takes. Target (docs/perf.md): ≤ 10 µs p50 added.

import { compilePolicySet } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import { initialFacts, type DecisionState } from '../core/pipeline.js';
import type { ActionRequest } from '../core/types.js';
import { MemoryBaselineStore } from '../risk/baseline-memory-store.js';
import { observe } from '../risk/baseline-observe.js';
import { BaselineService } from '../risk/baseline-service.js';
import { baselineStage } from '../risk/baseline-stage.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const AGENTS = 10_000;
const CALLS = quick ? 20_000 : 100_000;
const gc = (globalThis as { gc?: () => void }).gc;

const SCHEMA = `
entity AgentClass;
entity Agent in [AgentClass];
entity Tool;
entity NetworkDestination { host: String, port?: Long };
type Baseline = { mode: String, novel: { tool: Bool, model: Bool, destination: Bool, path: Bool, dataset: Bool, delegate: Bool }, deviation: Long, rateRatio: Long };
action invokeTool appliesTo { principal: Agent, resource: Tool, context: { baseline: Baseline } };
action connectNetwork appliesTo { principal: Agent, resource: NetworkDestination, context: { baseline: Baseline } };
`;
const POLICIES = `
@id("agents") permit (principal, action, resource);
@id("novel-destination-needs-approval") @outcome("require_approval")
forbid (principal, action == Action::"connectNetwork", resource)
when { context.baseline.mode == "enforce" && context.baseline.novel.destination };
@id("odd-tool-calls") forbid (principal, action == Action::"invokeTool", resource)
when { context.baseline.mode == "enforce" && context.baseline.deviation > 95 };
`;

const agentId = (i: number) => `agent-${i}`;
const tools = ['fs/read_file', 'fs/write_file', 'crm/query', 'http/get', 'tickets/list'];

/** The i-th agent's k-th request: a mix of its usual tools (with paths) and destinations. */
function request(i: number, k: number): ActionRequest {
  if (k % 3 === 2)
    return {
      agent: agentId(i),
      action: 'connectNetwork',
      resource: { type: 'NetworkDestination', id: `api${(i + k) % 5}.example.com:443` },
    };
  return {
    agent: agentId(i),
    action: 'invokeTool',
    resource: { type: 'Tool', id: tools[(i + k) % tools.length]! },
    input: { path: `/workspace/${i % 50}/src/file${k}.ts`, limit: k },
    paths: [`/workspace/${i % 50}/src/file${k}.ts`],
  };
}

function heapMb(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const us = (ns: number) => (ns / 1000).toFixed(2);

async function main(): Promise<void> {
  const entities = [
    { uid: { type: 'AgentClass', id: 'workers' }, attrs: {}, parents: [] },
    ...Array.from({ length: AGENTS }, (_, i) => ({
      uid: { type: 'Agent', id: agentId(i) },
      attrs: {},
      parents: [{ type: 'AgentClass', id: 'workers' }],
    })),
  ];
  const r = compilePolicySet({
    schema: { file: 'schema.cedarschema', text: SCHEMA },
    entities: { file: 'entities.json', text: JSON.stringify(entities) },
    policies: [{ file: 'p.cedar', text: POLICIES }],
  });
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  const set = r.set;
  const store = new MemoryBaselineStore();
  const t0 = Date.UTC(2026, 0, 1);
  let now = t0;
  const baselines = new BaselineService({ store, clock: () => now, refreshMs: 1e12 });
  const state = (req: ActionRequest): DecisionState => ({
    request: req,
    set,
    now: new Date(now),
    agent: set.store.get('Agent', req.agent!)!,
    facts: initialFacts(undefined),
    context: {},
    obligations: [],
  });

  // Learn: 60 actions per agent over a day, written to the store, then read back as a fresh
  // node would (so the heap below holds loaded baselines, not pending deltas).
  const learnSamples: number[] = [];
  for (let k = 0; k < 60; k++) {
    now = t0 + k * 1_440_000;
    for (let i = 0; i < AGENTS; i++) {
      const obs = observe(request(i, k), [], { pathDepth: 3 });
      const start = process.hrtime.bigint();
      baselines.learn(agentId(i), ['workers'], obs, now);
      if (k >= 50) learnSamples.push(Number(process.hrtime.bigint() - start));
    }
  }
  await baselines.flush();
  await baselines.close();

  const before = heapMb();
  const node = new BaselineService({ store, clock: () => now, refreshMs: 1e12 });
  for (let i = 0; i < AGENTS; i++) await node.setMode(agentId(i), 'enforce', 'bench');
  const afterModes = heapMb();
  const nodeStage = baselineStage(node);
  for (let i = 0; i < AGENTS; i++) await nodeStage.run(state(request(i, 0))); // warm the cache
  const after = heapMb();
  now = t0 + 86_400_000;

  // The stage alone, per call, from the cache (enforce: every request assessed).
  const stageSamples: number[] = [];
  let novel = 0;
  for (let c = 0; c < CALLS; c++) {
    const s = state(request(c % AGENTS, c % 97));
    const start = process.hrtime.bigint();
    const p = nodeStage.run(s);
    if (p) await p;
    stageSamples.push(Number(process.hrtime.bigint() - start));
    if (s.facts.baseline.novel.destination || s.facts.baseline.novel.tool) novel++;
  }

  // Whole decisions in-process, with and without the stage, same requests, interleaved.
  const plain = new Engine({ policies: { current: () => set }, clock: () => new Date(now) });
  const withStage = new Engine({
    policies: { current: () => set },
    clock: () => new Date(now),
    stages: [nodeStage],
  });
  const without: number[] = [];
  const withB: number[] = [];
  for (let c = 0; c < CALLS / 2; c++) {
    const req = request(c % AGENTS, c % 97);
    for (const [engine, out] of [
      [plain, without],
      [withStage, withB],
    ] as const) {
      const start = process.hrtime.bigint();
      await engine.decide(req);
      out.push(Number(process.hrtime.bigint() - start));
    }
  }

  const st = percentiles(stageSamples);
  const le = percentiles(learnSamples);
  const w = percentiles(without);
  const b = percentiles(withB);
  console.log(`\n### Behavioral baselines (${AGENTS} agents baselined, enforce mode)\n`);
  console.log('| measure | p50 µs | p99 µs |');
  console.log('|---|---|---|');
  console.log(
    `| baseline stage per decision (observe + assess, cached) | ${us(st.p50)} | ${us(st.p99)} |`,
  );
  console.log(`| learning one allowed action (after-effect) | ${us(le.p50)} | ${us(le.p99)} |`);
  console.log(`| in-process decision without baselines | ${us(w.p50)} | ${us(w.p99)} |`);
  console.log(`| in-process decision with baselines | ${us(b.p50)} | ${us(b.p99)} |`);
  console.log(`| added per decision (difference) | ${us(b.p50 - w.p50)} | ${us(b.p99 - w.p99)} |`);
  console.log('');
  const kib = (bytes: number) => (Math.max(0, bytes) / 1024).toFixed(2);
  console.log(
    `memory: ${kib((after - afterModes) / AGENTS)} KiB per baselined agent (its cached baseline: ` +
      `about 7 tools with their shapes, 5 destinations, 20 path prefixes; the class's is shared), ` +
      `${kib((afterModes - before) / AGENTS)} KiB per cached mode. ${novel} of ${CALLS} assessed calls novel.` +
      (gc ? '' : ' Run with --expose-gc for exact heap numbers.'),
  );
}

await main();
