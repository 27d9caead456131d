// npm run bench: content inspection throughput (MB/s on one core, mixed 4 KB texts) per
// detector and for the full set, against a peer measured in the same run (the same PII and
// injection patterns on V8's backtracking engine without Cordon's guards, and the gitleaks
// catalogue matched by re2js without pre-filters); and the latency one MCP tool result gains
// through the gateway's inspection (the everything server's echo, in process, audit off).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { pino } from 'pino';
import { Engine } from '../core/engine.js';
import { mixedTexts } from '../inspect/fixtures/mixed.js';
import { InjectionHeuristics } from '../inspect/injection/heuristics.js';
import { Inspector } from '../inspect/inspector.js';
import { PiiDetector } from '../inspect/pii/detector.js';
import { LinearRegex } from '../inspect/regex.js';
import { gitleaksCatalogue } from '../inspect/secrets/catalogue.js';
import { SecretsDetector } from '../inspect/secrets/detector.js';
import type { Detector } from '../inspect/types.js';
import { GatewaySession, type ContentHook } from '../mcp/gateway.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../server/decisions.js';
import { Metrics } from '../server/metrics.js';
import { EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { EVERYTHING_SERVER } from '../testing/mcp.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const TEXTS = quick ? 100 : 500;
const SIZE = 4096;

/**
 * MB per second of CPU time (user + system of this process: one core's worth, whatever else
 * the machine runs), after warming up; best of `rounds`.
 */
async function throughput(
  texts: string[],
  fn: (t: string) => unknown,
  rounds = quick ? 2 : 3,
  warm = 2000,
) {
  // Warm up to steady state (the JIT's optimized code, re2js's lazily built DFA states): at
  // least 2,000 calls, however few texts a --quick run has.
  for (let done = 0; done < warm;) {
    for (const t of texts) {
      await fn(t);
      done++;
    }
  }
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    for (const t of texts) await fn(t);
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return (texts.length * SIZE) / 1e6 / best;
}

async function detectors(texts: string[]) {
  const rows = ['| detector | Cordon MB/s | peer | peer MB/s |', '|---|---:|---|---:|'];
  const detect = (d: Detector) => (t: string) => d.detect(t);
  const secrets = new SecretsDetector();
  // Peer: every rule of the catalogue through re2js on the whole text, no pre-filter.
  const catalogue = gitleaksCatalogue();
  const naive = catalogue.rules.map((r) => new LinearRegex(r.data.regex));
  const naiveRate = await throughput(
    texts.slice(0, Math.max(10, texts.length / 10)),
    (t) => {
      for (const re of naive) for (const _ of re.matches(t));
    },
    1,
    50,
  );
  rows.push(
    `| secrets (${catalogue.rules.length} gitleaks rules) | ${(await throughput(texts, detect(secrets))).toFixed(1)} | every rule on the whole text (re2js) | ${naiveRate.toFixed(1)} |`,
  );
  rows.push(`| PII | ${(await throughput(texts, detect(new PiiDetector()))).toFixed(1)} | | |`);
  rows.push(
    `| injection heuristics | ${(await throughput(texts, detect(new InjectionHeuristics()))).toFixed(1)} | | |`,
  );
  const inspector = new Inspector();
  rows.push(
    `| **full set** (secrets + PII + injection) | **${(await throughput(texts, (t) => inspector.inspect(t))).toFixed(1)}** | | |`,
  );
  console.log(`\n### Content inspection, MB per CPU-second, ${texts.length} mixed 4 KB texts\n`);
  console.log(rows.join('\n'));
}

async function mcp(texts: string[]) {
  const compiled = await loadPolicyDir(EXAMPLE_POLICIES);
  if (!compiled.ok) throw new Error('example policies do not compile');
  const decisions = new DecisionService(
    new Engine({ policies: { current: () => compiled.set } }),
    new Metrics(),
    pino({ level: 'silent' }),
  );
  const open = async (hook: ContentHook | undefined) => {
    const session = await GatewaySession.open({
      upstreams: [{ name: 'everything', command: process.execPath, args: [EVERYTHING_SERVER] }],
      decisions,
      identity: { agent: 'report-agent', user: 'cole' },
      ...(hook ? { contentHook: hook } : {}),
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await session.server.connect(b);
    const client = new Client({ name: 'bench', version: '1' });
    await client.connect(a);
    return { session, client };
  };
  // Calls alternate between the two gateways, so load on the machine weighs on both alike.
  const plain = await open((c) => c.result);
  const inspected = await open(undefined);
  const lat = { plain: [] as number[], inspected: [] as number[] };
  const n = quick ? 200 : 1000;
  for (let i = -50; i < n; i++) {
    const text = texts[(i + 50) % texts.length]!;
    for (const [name, g] of [
      ['plain', plain],
      ['inspected', inspected],
    ] as const) {
      const t0 = performance.now();
      await g.client.callTool({ name: 'echo', arguments: { message: text } });
      if (i >= 0) lat[name].push(performance.now() - t0);
    }
  }
  for (const g of [plain, inspected]) {
    await g.client.close();
    await g.session.close();
  }
  const row = (label: string, xs: number[]) => {
    const p = percentiles(xs);
    return `| ${label} | ${p.p50.toFixed(2)} ms | ${p.p99.toFixed(2)} ms |`;
  };
  const [plainP, inspectedP] = [percentiles(lat.plain), percentiles(lat.inspected)];
  console.log('\n### MCP tool result inspection (4 KB mixed text, everything/echo, audit off)\n');
  console.log('| path (one call at a time, alternating) | p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(row('gateway, a hook that passes results through', lat.plain));
  console.log(
    row('gateway, inspection by policy (content.cedar: a readToolResult decision)', lat.inspected),
  );
  console.log(
    `| **added by inspection** | **${(inspectedP.p50 - plainP.p50).toFixed(2)} ms** | ${(inspectedP.p99 - plainP.p99).toFixed(2)} ms |`,
  );
}

const texts = mixedTexts(TEXTS, SIZE);
await detectors(texts);
await mcp(texts);
