// npm run bench: decision latency in-process and over HTTP, each against a peer measured in
// the same run (raw cedar-wasm with the whole policy set; a bare HTTP server with no policy).
// Prints a markdown table; docs/perf.md keeps the latest numbers.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cedar } from '../core/cedar.js';
import { Engine } from '../core/engine.js';
import { compilePolicySet } from '../core/compile.js';
import { tempDir, writeTree } from '../testing/fixtures.js';
import { waitForHttp } from '../testing/net.js';

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
const REQUEST = {
  agent: 'bench',
  action: 'a1',
  resource: { type: 'Tool', id: 't' },
  context: { n: 5 },
};

function percentiles(samples: number[]) {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

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

const us = (v: number) => `${v.toFixed(0)} µs`;

async function measure(n: number, shape: 'spread' | 'concentrated', user?: string) {
  const text = policies(n, shape);
  const r = compilePolicySet({
    policies: [{ file: 'bench.cedar', text }],
    entities: { file: 'entities.json', text: JSON.stringify(ENTITIES) },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const engine = new Engine({ policies: { current: () => r.set } });
  const request = user ? { ...REQUEST, user } : REQUEST;
  const check = await engine.decide(request);
  if (check.decision !== 'allow')
    throw new Error(`bench request should be allowed: ${JSON.stringify(check)}`);

  const rawId = `raw-${n}-${shape}`;
  cedar.preparsePolicySet(rawId, { staticPolicies: text });
  const raw = () =>
    cedar.statefulIsAuthorized({
      principal: { type: 'Agent', id: 'bench' },
      action: { type: 'Action', id: 'a1' },
      resource: { type: 'Tool', id: 't' },
      context: { n: 5 },
      entities: ENTITIES as never,
      preparsedPolicySetId: rawId,
    });
  const iterations = quick ? 300 : n >= 1000 ? 3000 : 10000;
  const c = await timeAsync(iterations, () => engine.decide(request));
  const w = await timeAsync(iterations, async () => raw());
  return { c, w };
}

async function inProcess() {
  const rows: string[] = [
    '| policies (over 20 actions) | Cordon `decide` p50 | p99 | raw `statefulIsAuthorized`, whole set, p50 | p99 | speed-up (p50) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const cases: [string, number, 'spread' | 'concentrated', string?][] = [
    ['10', 10, 'spread'],
    ['100', 100, 'spread'],
    ['1,000', 1000, 'spread'],
    ['1,000, agent and on-behalf-of user', 1000, 'spread', 'alice'],
    ['1,000, worst case: all 50 of the action concern the agent', 1000, 'concentrated'],
  ];
  for (const [label, n, shape, user] of cases) {
    const { c, w } = await measure(n, shape, user);
    rows.push(
      `| ${label} | ${us(c.p50)} | ${us(c.p99)} | ${us(w.p50)} | ${us(w.p99)} | ${(w.p50 / c.p50).toFixed(1)}× |`,
    );
  }
  return rows.join('\n');
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

async function http() {
  const dir = await tempDir('cordon-bench-');
  await writeTree(dir, {
    'policies/bench.cedar': policies(1000),
    'policies/entities.json': JSON.stringify(ENTITIES),
  });
  await writeFile(
    join(dir, 'cordon.yaml'),
    `policies: ${join(dir, 'policies')}\ndata: ${join(dir, 'data')}\nport: 0\nwatch: false\nlog: { level: warn }\naudit: { enabled: false }\n`,
  );
  const bin = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  // The server is one Node process (one core); the load generator runs here, on the other core.
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--config', join(dir, 'cordon.yaml'), '--port', '7391'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const url = 'http://127.0.0.1:7391';
    await waitForHttp(`${url}/healthz`);
    const cordonRun = await load(`${url}/v1/decide`, JSON.stringify(REQUEST));

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
      row('Cordon `POST /v1/decide`, 1,000 policies', cordonRun),
      row('bare node:http, JSON in, fixed answer (peer)', bareRun),
    ].join('\n');
  } finally {
    child.kill('SIGTERM');
  }
}

console.log(
  `# cordon bench (${new Date().toISOString()}, node ${process.version}, cedar ${cedar.getCedarVersion()})\n`,
);
console.log('## In-process decision latency (policies spread over 20 actions)\n');
console.log(await inProcess());
console.log('\n## HTTP decisions\n');
console.log(await http());
