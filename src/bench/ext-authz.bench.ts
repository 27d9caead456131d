// npm run bench: Envoy ext_authz checks against POST /v1/decide, on the same `cordon serve`
// process (one Node process: one core) in the same run. The same decision either way: one
// agent reading an Issue through a route with path parameters, 500 policies, audit off (as in
// decide.bench, so the protocol is what differs). gRPC: a client generated from the vendored
// protos with 16 calls in flight on one HTTP/2 connection, as Envoy multiplexes; HTTP (both
// /v1/decide and http_service): autocannon, 16 connections. The load runs in this process, on
// the other core. Target (issue 19): ext_authz gRPC within 1.5x of /v1/decide.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { envoyCheckRequest, rawAuthzClient } from '../testing/ext-authz.js';
import { tempDir, writeTree } from '../testing/fixtures.js';
import { waitForHttp } from '../testing/net.js';
import { median, percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
/** Rounds alternate the three loads, so a busy machine slows each alike; medians are reported. */
const ROUNDS = quick ? 3 : 5;
const SECONDS = quick ? 2 : 5;
const CONCURRENCY = 16;
const API_PORT = 7471;
const GRPC_PORT = 7472;
const HTTP_PORT = 7473;

/** 500 policies over 20 actions; the bench agent's reads of acme's issues are permitted. */
function policies(n = 500): string {
  const out = [
    '@id("read-acme") permit(principal == Agent::"bench", action == Action::"readData", resource is Issue) when { context.http.method == "GET" };',
  ];
  for (let i = 1; i < n; i++) {
    const action = `Action::"a${i % 20}"`;
    out.push(
      i % 5 === 0
        ? `@id("f${i}") forbid(principal, action == ${action}, resource) when { context has n && context.n > ${i} };`
        : `@id("p${i}") permit(principal in Group::"g${i % 10}", action == ${action}, resource);`,
    );
  }
  out.push('@id("no-secret") forbid(principal, action, resource == Issue::"acme/secret#1");');
  return out.join('\n');
}

const CONFIG = (dir: string) => `policies: ${join(dir, 'policies')}
data: ${join(dir, 'data')}
watch: false
log: { level: warn }
audit: { enabled: false }
baselines: { enabled: false }
extAuthz:
  grpc: { listen: "127.0.0.1:${GRPC_PORT}" }
  http: { listen: "127.0.0.1:${HTTP_PORT}", pathPrefix: /authz }
  identity:
    agent: [{ header: x-agent-id }]
  routes:
    - match: { method: GET, path: "/repos/{owner}/{repo}/issues/{number}" }
      action: readData
      resource: { type: Issue, id: "{owner}/{repo}#{number}" }
`;

/** The same decision as the ext_authz route makes, asked of /v1/decide. */
const DECIDE_BODY = JSON.stringify({
  agent: 'bench',
  action: 'readData',
  resource: { type: 'Issue', id: 'acme/app#7' },
  context: {
    http: { method: 'GET', path: '/repos/acme/app/issues/7', host: 'api.example.com' },
  },
});

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function fromAutocannon(r: autocannon.Result): Run {
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

/**
 * The gRPC load: the CheckRequest is encoded once and sent as bytes, and the answer is decoded
 * only while warming up (autocannon, too, sends a prepared body and reads no JSON), so the load
 * generator costs little next to the server.
 */
async function grpcLoad(): Promise<Run> {
  const raw = rawAuthzClient(GRPC_PORT);
  const encoded = raw.encode(
    envoyCheckRequest({
      method: 'GET',
      path: '/repos/acme/app/issues/7',
      headers: { 'x-agent-id': 'bench' },
    }),
  );
  try {
    // Warm-up, and a check that the bench measures allows.
    for (let i = 0; i < 50; i++) {
      const r = raw.decode(await raw.send(encoded));
      if (r.http_response !== 'ok_response')
        throw new Error(`the bench request is not allowed: ${JSON.stringify(r)}`);
    }
    const samples: number[] = [];
    let errors = 0;
    const end = Date.now() + SECONDS * 1000;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < end) {
          const t = process.hrtime.bigint();
          try {
            await raw.send(encoded);
          } catch {
            errors++;
          }
          samples.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { p50, p99 } = percentiles(samples);
    return { rps: samples.length / seconds, p50, p99, errors };
  } finally {
    raw.close();
  }
}

async function main() {
  const dir = await tempDir('cordon-bench-ext-authz-');
  await writeTree(dir, {
    'policies/bench.cedar': policies(),
    'policies/entities.json': JSON.stringify([
      { uid: { type: 'Agent', id: 'bench' }, attrs: {}, parents: [] },
    ]),
  });
  await writeFile(join(dir, 'cordon.yaml'), CONFIG(dir));
  const bin = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--config', join(dir, 'cordon.yaml'), '--port', String(API_PORT)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const api = `http://127.0.0.1:${API_PORT}`;
    await waitForHttp(`${api}/healthz`, 60_000);
    const load = async (o: autocannon.Options) =>
      fromAutocannon(await autocannon({ connections: CONCURRENCY, duration: SECONDS, ...o }));
    const runs: Record<'decide' | 'grpc' | 'http', Run[]> = { decide: [], grpc: [], http: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.decide.push(
        await load({
          url: `${api}/v1/decide`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: DECIDE_BODY,
        }),
      );
      runs.grpc.push(await grpcLoad());
      runs.http.push(
        await load({
          url: `http://127.0.0.1:${HTTP_PORT}/authz/repos/acme/app/issues/7`,
          method: 'GET',
          headers: { host: 'api.example.com', 'x-agent-id': 'bench' },
        }),
      );
    }
    const mid = (xs: Run[]): Run => ({
      rps: median(xs.map((x) => x.rps)),
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
      errors: xs.reduce((n, x) => n + x.errors, 0),
    });
    const decide = mid(runs.decide);
    const grpc = mid(runs.grpc);
    const http = mid(runs.http);
    const row = (name: string, r: Run) =>
      `| ${name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${(decide.rps / r.rps).toFixed(2)}x | ${r.errors} |`;
    console.log('\n## Envoy ext_authz against /v1/decide\n');
    console.log(
      [
        `| one \`cordon serve\` process, ${CONCURRENCY} in flight, 500 policies, audit off (median of ${ROUNDS} rounds) | checks/s | p50 | p99 | /v1/decide ÷ this | errors |`,
        '|---|---:|---:|---:|---:|---:|',
        row('`POST /v1/decide` (HTTP/1.1 JSON, peer)', decide),
        row('ext_authz gRPC `Authorization/Check`', grpc),
        row('ext_authz HTTP (`http_service`)', http),
      ].join('\n'),
    );
    const ratio = decide.rps / grpc.rps;
    console.log(
      `\nTarget: ext_authz gRPC within 1.5x of /v1/decide: ${ratio <= 1.5 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x). Load average at the end: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(', ')} on ${availableParallelism()} cores.`,
    );
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

await main();
