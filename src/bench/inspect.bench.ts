// npm run bench: content inspection throughput (MB/s on one core, mixed 4 KB texts) per
// detector and for the full set with and without the injection classifier, against a peer
// measured in the same run (the gitleaks catalogue matched by re2js without pre-filters); the
// latency inspection adds to one text (what an LLM request or a tool result waits), and to one
// MCP tool result through the gateway (the everything server's echo, in process, audit off),
// with the classifier and with the heuristics alone, calls alternating.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { pino } from 'pino';
import { Engine } from '../core/engine.js';
import { mixedTexts } from '../inspect/fixtures/mixed.js';
import { shippedClassifier } from '../inspect/injection/classifier.js';
import { InjectionHeuristics } from '../inspect/injection/heuristics.js';
import { heuristicDetectors, Inspector } from '../inspect/inspector.js';
import { PiiDetector } from '../inspect/pii/detector.js';
import { LinearRegex } from '../inspect/regex.js';
import { gitleaksCatalogue } from '../inspect/secrets/catalogue.js';
import { SecretsDetector } from '../inspect/secrets/detector.js';
import type { Detector } from '../inspect/types.js';
import { GatewaySession, type ContentHook } from '../pep/mcp/gateway.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
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
  rows.push(
    `| injection classifier (shipped model) | ${(await throughput(texts, detect(shippedClassifier()))).toFixed(1)} | | |`,
  );
  const inspector = new Inspector();
  const heuristicsOnly = new Inspector(heuristicDetectors());
  rows.push(
    `| full set, heuristics only (secrets + PII + injection heuristics) | ${(await throughput(texts, (t) => heuristicsOnly.inspect(t))).toFixed(1)} | | |`,
  );
  rows.push(
    `| **full set with the classifier** (the default) | **${(await throughput(texts, (t) => inspector.inspect(t))).toFixed(1)}** | | |`,
  );
  console.log(`\n### Content inspection, MB per CPU-second, ${texts.length} mixed 4 KB texts\n`);
  console.log(rows.join('\n'));

  // Latency of one inspection, alternating the two inspectors text by text.
  const lat = { heuristics: [] as number[], classifier: [] as number[] };
  for (let i = 0; i < texts.length * 2; i++) {
    const t = texts[i % texts.length]!;
    for (const [name, insp] of [
      ['heuristics', heuristicsOnly],
      ['classifier', inspector],
    ] as const) {
      const t0 = performance.now();
      await insp.inspect(t);
      lat[name].push(performance.now() - t0);
    }
  }
  const [h, c] = [percentiles(lat.heuristics), percentiles(lat.classifier)];
  console.log('\n### One 4 KB text inspected (what a tool result or an LLM request waits)\n');
  console.log('| inspector | p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(`| heuristics only | ${h.p50.toFixed(3)} ms | ${h.p99.toFixed(3)} ms |`);
  console.log(`| with the classifier | ${c.p50.toFixed(3)} ms | ${c.p99.toFixed(3)} ms |`);
  console.log(
    `| **added by the classifier** | **${(c.p50 - h.p50).toFixed(3)} ms** | ${(c.p99 - h.p99).toFixed(3)} ms |`,
  );
}

async function mcp(texts: string[]) {
  const compiled = await loadPolicyDir(EXAMPLE_POLICIES);
  if (!compiled.ok) throw new Error('example policies do not compile');
  const service = (inspector?: Inspector) =>
    new DecisionService(
      new Engine({
        policies: { current: () => compiled.set },
        ...(inspector ? { inspector } : {}),
      }),
      new Metrics(),
      pino({ level: 'silent' }),
    );
  const open = async (hook: ContentHook | undefined, decisions = service()) => {
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
  // Calls alternate between the gateways, so load on the machine weighs on all alike.
  const plain = await open((c) => c.result);
  const heuristics = await open(undefined, service(new Inspector(heuristicDetectors())));
  const inspected = await open(undefined);
  const lat = { plain: [] as number[], heuristics: [] as number[], inspected: [] as number[] };
  const n = quick ? 200 : 1000;
  for (let i = -50; i < n; i++) {
    const text = texts[(i + 50) % texts.length]!;
    for (const [name, g] of [
      ['plain', plain],
      ['heuristics', heuristics],
      ['inspected', inspected],
    ] as const) {
      const t0 = performance.now();
      await g.client.callTool({ name: 'echo', arguments: { message: text } });
      if (i >= 0) lat[name].push(performance.now() - t0);
    }
  }
  for (const g of [plain, heuristics, inspected]) {
    await g.client.close();
    await g.session.close();
  }
  const row = (label: string, xs: number[]) => {
    const p = percentiles(xs);
    return `| ${label} | ${p.p50.toFixed(2)} ms | ${p.p99.toFixed(2)} ms |`;
  };
  const [plainP, heurP, inspectedP] = [lat.plain, lat.heuristics, lat.inspected].map(percentiles);
  console.log('\n### MCP tool result inspection (4 KB mixed text, everything/echo, audit off)\n');
  console.log('| path (one call at a time, alternating) | p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(row('gateway, a hook that passes results through', lat.plain));
  console.log(row('gateway, inspection by policy, heuristics only', lat.heuristics));
  console.log(
    row('gateway, inspection by policy (content.cedar), with the classifier', lat.inspected),
  );
  console.log(
    `| **added by inspection** (with the classifier) | **${(inspectedP!.p50 - plainP!.p50).toFixed(2)} ms** | ${(inspectedP!.p99 - plainP!.p99).toFixed(2)} ms |`,
  );
  console.log(
    `| **added by the classifier** (against heuristics only) | **${(inspectedP!.p50 - heurP!.p50).toFixed(2)} ms** | ${(inspectedP!.p99 - heurP!.p99).toFixed(2)} ms |`,
  );
}

const texts = mixedTexts(TEXTS, SIZE);
await detectors(texts);
await mcp(texts);
