// npm run bench: decision latency in-process and over HTTP, the compiled Cedar engine against
// cedar-wasm (statefulIsAuthorized on the same preparsed subsets, same requests, same slices),
// across policy and entity counts; memory for a large entity store; HTTP against a bare server.
// Risk scoring and shadow policies: the added cost per decision. Prints markdown tables;
// docs/perf.md keeps the latest numbers. `--risk` runs only the risk rows.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cedar } from '../core/cedar.js';
import type { EngineKind } from '../core/compiled/index.js';
import { Engine } from '../core/engine.js';
import { compilePolicySet } from '../core/compile.js';
import { evaluate } from '../core/evaluate.js';
import { initialFacts, type DecisionState } from '../core/pipeline.js';
import { ReputationList } from '../risk/reputation.js';
import { riskStage } from '../risk/stage.js';
import { tempDir, writeTree } from '../testing/fixtures.js';
import { waitForHttp } from '../testing/net.js';
import { percentiles } from './stats.js';

const ACTIONS = 20;
const quick = process.argv.includes('--quick');

/**
 * n policies over 20 actions and 10 groups. `spread`: groups vary independently of actions, so
 * about a fifth of an action's policies concern the bench agent's two groups (a realistic set).
 * `concentrated`: every policy of the action concerns the agent (the worst case for Cordon's
 * scope indexing, where only the action index helps).
 */
function policies(n: number, shape: 'spread' | 'concentrated' = 'spread'): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const action = `Action::"a${i % ACTIONS}"`;
    const group = shape === 'spread' ? Math.floor(i / ACTIONS) % 10 : 1;
    if (i % 5 === 0) {
      out.push(
        `@id("f${i}") forbid(principal in Group::"g${group}", action == ${action}, resource) when { resource.sensitive && context.n > ${i} };`,
      );
    } else {
      out.push(
        `@id("p${i}") permit(principal in Group::"g${group}", action == ${action}, resource) when { principal.level >= ${i % 7} && context.n < ${i + 10} };`,
      );
    }
  }
  return out.join('\n');
}

const ENTITIES = [
  {
    uid: { type: 'Agent', id: 'bench' },
    attrs: { level: 6 },
    parents: [
      { type: 'Group', id: 'g0' },
      { type: 'Group', id: 'g1' },
    ],
  },
  {
    uid: { type: 'User', id: 'alice' },
    attrs: { level: 6 },
    parents: [{ type: 'Group', id: 'g1' }],
  },
  { uid: { type: 'Group', id: 'g1' }, attrs: {}, parents: [] },
  { uid: { type: 'Group', id: 'g0' }, attrs: {}, parents: [] },
  { uid: { type: 'Tool', id: 't' }, attrs: { sensitive: false }, parents: [] },
];

/** The bench entities plus filler up to n: agents in groups, tools in tool sets, with attributes. */
function entities(n: number): unknown[] {
  const out: unknown[] = [...ENTITIES];
  for (let i = 0; out.length < n; i++) {
    if (i % 2 === 0) {
      out.push({
        uid: { type: 'Agent', id: `agent-${i}` },
        attrs: { level: i % 7, owner: `user-${i % 97}` },
        parents: [{ type: 'Group', id: `g${i % 10}` }],
      });
    } else {
      out.push({
        uid: { type: 'Tool', id: `tool-${i}` },
        attrs: { sensitive: i % 3 === 0, path: `/srv/${i}` },
        parents: [],
      });
    }
  }
  return out;
}
const REQUEST = {
  agent: 'bench',
  action: 'a1',
  resource: { type: 'Tool', id: 't' },
  context: { n: 5 },
};

async function timeAsync(iterations: number, fn: () => Promise<unknown>) {
  for (let i = 0; i < Math.min(200, iterations); i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return percentiles(samples);
}

function timeSync(iterations: number, fn: () => unknown) {
  for (let i = 0; i < Math.min(500, iterations); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return percentiles(samples);
}

const us = (v: number) => (v < 10 ? `${v.toFixed(1)} µs` : `${v.toFixed(0)} µs`);

function compileSet(n: number, entityCount: number, engine: EngineKind, text = policies(n)) {
  const r = compilePolicySet(
    {
      policies: [{ file: 'bench.cedar', text }],
      entities: { file: 'entities.json', text: JSON.stringify(entities(entityCount)) },
    },
    { engine },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.set;
}

/** One engine's latency: the whole `decide`, and the Cedar step alone (subset + evaluation). */
async function measureEngine(n: number, entityCount: number, engine: EngineKind) {
  const set = compileSet(n, entityCount, engine);
  const decider = new Engine({ policies: { current: () => set } });
  const check = await decider.decide(REQUEST);
  if (check.decision !== 'allow')
    throw new Error(`bench request should be allowed: ${JSON.stringify(check)}`);
  const principal = set.store.get('Agent', 'bench')!;
  const action = set.store.get('Action', 'a1') ?? {
    uid: { type: 'Action', id: 'a1' },
    attrs: {},
    parents: [],
  };
  const resource = set.store.get('Tool', 't')!;
  const context = { n: 5 };
  const cedarStep = () => {
    const subset = set.subsetFor('a1', principal, resource);
    return evaluate({
      set,
      subset,
      role: 'agent',
      principal,
      action,
      resource,
      context,
      approved: false,
    });
  };
  if (cedarStep().outcome !== 'allow') throw new Error('bench Cedar step should allow');
  const iterations = quick ? 300 : engine === 'wasm' && n >= 1000 ? 3000 : 20000;
  const decide = await timeAsync(iterations, () => decider.decide(REQUEST));
  const step = timeSync(iterations, cedarStep);
  if (set.runtimeFallbacks > 0) throw new Error('the compiled bench fell back to cedar-wasm');
  // The official engine alone on the whole set, preparsed, with the same request and slice.
  let raw: { p50: number; p99: number } | undefined;
  if (engine === 'wasm') {
    const rawId = `raw-${n}-${entityCount}`;
    cedar.preparsePolicySet(rawId, { staticPolicies: policies(n) });
    const slice = [principal, resource];
    const call = () =>
      cedar.statefulIsAuthorized({
        principal: principal.uid,
        action: action.uid,
        resource: resource.uid,
        context,
        entities: slice as never,
        preparsedPolicySetId: rawId,
      });
    const a = call();
    if (a.type !== 'success' || a.response.decision !== 'allow')
      throw new Error('raw cedar-wasm should allow the bench request');
    raw = timeSync(quick ? 300 : n >= 1000 ? 2000 : 10000, call);
  }
  return { decide, step, raw };
}

/** One measurement in a fresh process: no JIT state or garbage carried over between rows. */
function measureInChild(n: number, entityCount: number, engine: EngineKind) {
  const self = fileURLToPath(import.meta.url);
  const args = ['--expose-gc', self, '--one', String(n), String(entityCount), engine];
  if (quick) args.push('--quick');
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error(`bench child ${n}/${entityCount}/${engine} failed (${r.status})`);
  return JSON.parse(r.stdout) as Awaited<ReturnType<typeof measureEngine>>;
}

async function inProcess() {
  const rows: string[] = [
    '| policies | entities | `decide` compiled p50 | p99 | `decide` wasm p50 | p99 | Cedar step compiled p50 | p99 | Cedar step wasm (subset) p50 | p99 | raw cedar-wasm, whole set, p50 | p99 | speed-up vs wasm subset / vs raw (p50) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cases: [number, number][] = quick
    ? [
        [10, 1000],
        [100, 1000],
        [1000, 1000],
        [1000, 10],
      ]
    : [
        [10, 1000],
        [100, 1000],
        [1000, 1000],
        [10000, 1000],
        [1000, 10],
        [1000, 100000],
        [10000, 100000],
      ];
  for (const [n, e] of cases) {
    const c = measureInChild(n, e, 'compiled');
    const w = measureInChild(n, e, 'wasm');
    rows.push(
      `| ${n.toLocaleString('en-US')} | ${e.toLocaleString('en-US')} | ${us(c.decide.p50)} | ${us(c.decide.p99)} | ${us(w.decide.p50)} | ${us(w.decide.p99)} | ${us(c.step.p50)} | ${us(c.step.p99)} | ${us(w.step.p50)} | ${us(w.step.p99)} | ${us(w.raw!.p50)} | ${us(w.raw!.p99)} | ${(w.step.p50 / c.step.p50).toFixed(0)}× / ${(w.raw!.p50 / c.step.p50).toFixed(0)}× |`,
    );
  }
  return rows.join('\n');
}

/** Worst case for the scope index: every policy of the action concerns the agent. */
async function concentrated() {
  const rows = [
    '| 1,000 policies, all 50 of the action concern the agent | compiled p50 | p99 | wasm p50 | p99 |',
    '|---|---:|---:|---:|---:|',
  ];
  const text = policies(1000, 'concentrated');
  const out: string[] = [];
  for (const engine of ['compiled', 'wasm'] as const) {
    const set = compileSet(1000, 1000, engine, text);
    const decider = new Engine({ policies: { current: () => set } });
    const t = await timeAsync(quick ? 300 : 5000, () => decider.decide(REQUEST));
    out.push(us(t.p50), us(t.p99));
  }
  rows.push(`| \`decide\` | ${out.join(' | ')} |`);
  return rows.join('\n');
}

/**
 * The same decision back to back, and after the process slept: what a decision costs a gateway
 * at a low request rate, where the process idles between requests and its code and data have
 * gone cold in the caches of a shared VM.
 */
async function afterIdle() {
  const set = compileSet(1000, 1000, 'compiled');
  const decider = new Engine({ policies: { current: () => set } });
  const n = quick ? 100 : 300;
  const rows = ['| 1,000 policies, compiled | p50 | p99 |', '|---|---:|---:|'];
  const warm = await timeAsync(n * 10, () => decider.decide(REQUEST));
  rows.push(`| back to back | ${us(warm.p50)} | ${us(warm.p99)} |`);
  for (const idleMs of [1, 8]) {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, idleMs));
      const t = process.hrtime.bigint();
      await decider.decide(REQUEST);
      samples.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    const p = percentiles(samples);
    rows.push(
      `| after ${idleMs} ms idle (${1000 / idleMs} requests/s) | ${us(p.p50)} | ${us(p.p99)} |`,
    );
  }
  return rows.join('\n');
}

/** heapUsed / RSS growth from loading a store of 100,000 entities (and compiling 1,000 policies). */
function memory() {
  const count = quick ? 10000 : 100000;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const set = compileSet(1000, count, 'compiled');
  gc?.();
  const after = process.memoryUsage();
  const mb = (v: number) => `${(v / 2 ** 20).toFixed(0)} MiB`;
  const row = `| ${count.toLocaleString('en-US')} entities, 1,000 policies | ${mb(after.heapUsed - before.heapUsed)} | ${mb(after.rss - before.rss)} | ${set.store.size.toLocaleString('en-US')} |`;
  return [
    '| loaded | heapUsed delta | RSS delta | entities in the store |',
    '|---|---:|---:|---:|',
    row,
    gc ? '' : '\n(run with --expose-gc for settled numbers)',
  ].join('\n');
}

async function load(url: string, body: string) {
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: 16,
    duration: quick ? 3 : 10,
  });
  return r;
}

/** `cordon serve` with this engine under load (audit off, no session), then stopped. */
async function serveAndLoad(engine: EngineKind, port: number) {
  const dir = await tempDir('cordon-bench-');
  await writeTree(dir, {
    'policies/bench.cedar': policies(1000),
    'policies/entities.json': JSON.stringify(ENTITIES),
  });
  await writeFile(
    join(dir, 'cordon.yaml'),
    `policies: ${join(dir, 'policies')}\ndata: ${join(dir, 'data')}\nport: 0\nwatch: false\nlog: { level: warn }\naudit: { enabled: false }\nengine: ${engine}\n`,
  );
  const bin = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  // The server is one Node process (one core); the load generator runs here, on the other core.
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--config', join(dir, 'cordon.yaml'), '--port', String(port)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/healthz`);
    return await load(`${url}/v1/decide`, JSON.stringify(REQUEST));
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

async function http() {
  const compiledRun = await serveAndLoad('compiled', 7391);
  const wasmRun = await serveAndLoad('wasm', 7393);

  // Peer: a bare node:http server that parses the same JSON and answers a fixed decision.
  const bare = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString());
      res.setHeader('content-type', 'application/json');
      res.end('{"decision":"allow"}');
    });
  });
  bare.listen(7392, '127.0.0.1');
  await once(bare, 'listening');
  const bareRun = await load('http://127.0.0.1:7392/', JSON.stringify(REQUEST));
  bare.close();

  const row = (name: string, r: autocannon.Result) =>
    `| ${name} | ${Math.round(r.requests.average).toLocaleString('en-US')} | ${r.latency.p50} ms | ${r.latency.p99} ms | ${r.errors + r.non2xx} |`;
  return [
    '| server (1 process, 16 connections) | requests/s | p50 | p99 | errors |',
    '|---|---:|---:|---:|---:|',
    row('Cordon `POST /v1/decide`, 1,000 policies, engine compiled', compiledRun),
    row('Cordon `POST /v1/decide`, 1,000 policies, engine wasm', wasmRun),
    row('bare node:http, JSON in, fixed answer (peer)', bareRun),
  ].join('\n');
}

/** A reputation list of n entries: names, addresses and ranges (none matches the bench request). */
function reputationList(n: number): ReputationList {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) lines.push(`bad-${i}.example`);
    else if (i % 3 === 1) lines.push(`198.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    else lines.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  }
  const r = ReputationList.parse(lines.join('\n'));
  if (!(r instanceof ReputationList)) throw new Error('bench reputation list does not parse');
  return r;
}

/**
 * The added cost of the risk stage: the same decision with and without it (every signal computed,
 * a 10,000-entry reputation list looked up for the input's URL), the stage alone, and the cost
 * of one shadow policy that applies to the request.
 */
async function riskCost() {
  const set = compileSet(1000, 1000, 'compiled');
  const reputation = reputationList(10_000);
  const stage = riskStage({ reputation });
  const plain = new Engine({ policies: { current: () => set } });
  const scored = new Engine({ policies: { current: () => set }, risk: stage });
  const request = { ...REQUEST, input: { url: 'https://api.partner.example/v1/orders' } };
  for (const e of [plain, scored])
    if ((await e.decide(request)).decision !== 'allow')
      throw new Error('bench request should be allowed');
  const n = quick ? 300 : 20000;
  // Alternating halves, so drift on a shared machine falls on both alike.
  const a1 = await timeAsync(n / 2, () => plain.decide(request));
  const b1 = await timeAsync(n / 2, () => scored.decide(request));
  const a2 = await timeAsync(n / 2, () => plain.decide(request));
  const b2 = await timeAsync(n / 2, () => scored.decide(request));
  const avg = (x: { p50: number; p99: number }, y: { p50: number; p99: number }) => ({
    p50: (x.p50 + y.p50) / 2,
    p99: (x.p99 + y.p99) / 2,
  });
  const without = avg(a1, a2);
  const withRisk = avg(b1, b2);
  const state: DecisionState = {
    request,
    set,
    now: new Date(),
    agent: set.store.get('Agent', 'bench')!,
    facts: initialFacts('s'),
    context: {},
    obligations: [],
  };
  const alone = timeSync(n, () => stage.run(state));
  // A new host on every decision: the reputation memo (4,096 hosts) never hits.
  const hosts = Array.from({ length: 10_000 }, (_, i) => ({
    ...state,
    request: { ...request, input: { url: `https://h${i}.partner${i % 97}.example/v1` } },
  }));
  let next = 0;
  const cold = timeSync(n, () => stage.run(hosts[next++ % hosts.length]!));

  const shadowText = `${policies(1000)}\n@id("shadow-bench") @mode("shadow") forbid(principal in Group::"g1", action == Action::"a1", resource) when { context.n > 100 };`;
  const shadowSet = compileSet(1000, 1000, 'compiled', shadowText);
  const shadowed = new Engine({ policies: { current: () => shadowSet } });
  const shadowT = await timeAsync(n, () => shadowed.decide(REQUEST));
  return [
    '| 1,000 policies, compiled | p50 | p99 |',
    '|---|---:|---:|',
    `| \`decide\` without the risk stage | ${us(without.p50)} | ${us(without.p99)} |`,
    `| \`decide\` with the risk stage (13 signals, 10,000-entry reputation list) | ${us(withRisk.p50)} | ${us(withRisk.p99)} |`,
    `| added per decision | ${us(withRisk.p50 - without.p50)} | ${us(withRisk.p99 - without.p99)} |`,
    `| the risk stage alone | ${us(alone.p50)} | ${us(alone.p99)} |`,
    `| the risk stage alone, a host not seen before on every decision | ${us(cold.p50)} | ${us(cold.p99)} |`,
    `| \`decide\` with one shadow policy in scope (one more evaluation) | ${us(shadowT.p50)} | ${us(shadowT.p99)} |`,
  ].join('\n');
}

if (process.argv.includes('--risk')) {
  console.log('## Risk scoring and shadow policies\n');
  console.log(await riskCost());
  process.exit(0);
}

const one = process.argv.indexOf('--one');
if (one >= 0) {
  const [n, e, engine] = process.argv.slice(one + 1);
  process.stdout.write(
    JSON.stringify(await measureEngine(Number(n), Number(e), engine as EngineKind)),
  );
  process.exit(0);
}

console.log(
  `# cordon bench (${new Date().toISOString()}, node ${process.version}, cedar ${cedar.getCedarVersion()})\n`,
);
console.log('## In-process decision latency (policies spread over 20 actions)\n');
console.log(await inProcess());
console.log('\n### Worst case for scope indexing\n');
console.log(await concentrated());
console.log('\n### After idle\n');
console.log(await afterIdle());
console.log('\n### Risk scoring and shadow policies\n');
console.log(await riskCost());
console.log('\n## Memory\n');
console.log(memory());
console.log('\n## HTTP decisions\n');
console.log(await http());
