// npm run bench (SDK part): what guard() adds to a tool call. The same async tool function is
// called directly and through guard(), one call at a time, each call timed:
//
//   embedded    the decision point in this process (sdk/embedded.ts) over the example policies,
//               without the audit log, and with it (sync normal: written, fsync in the
//               background; sync full: durable before the call runs, the default)
//   engine      guard() over a bare engine from `createEngine` (no stores, nothing recorded)
//   remote      a `cordon serve` on this machine (its audit log on, as configured by default),
//               over keep-alive HTTP; and a decision its policy marks @cache_ttl, from the cache
//
// Target (issue 19): embedded, without audit, adds at most 20 µs at p50.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createEngine } from '../index.js';
import { EmbeddedDecider } from '../sdk/embedded.js';
import { guard, guardRequest, type Decider, type GuardOptions } from '../sdk/guard.js';
import { RemoteDecider } from '../sdk/remote.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { sdkPolicies } from '../testing/sdk.js';
import { startServeNode } from '../testing/serve-node.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 2_000 : 20_000;
const WARMUP = quick ? 500 : 3_000;

type Tool = (q: { account: number }) => Promise<{ account: number; balance: number }>;
const tool: Tool = async (q) => ({ account: q.account, balance: 100 });

const LEDGER: GuardOptions<[{ account: number }]> = {
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
  agent: 'ledger-bot',
};
const LOOKUP: GuardOptions<[{ account: number }]> = {
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'crm/lookup' },
  agent: 'support-bot',
};

/** Per-call latencies of `f`, in µs, after a warm-up. */
async function timeCalls(f: Tool, n: number): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await f({ account: i % 10 });
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await f({ account: i % 10 });
    out[i] = Number(process.hrtime.bigint() - t) / 1e3;
  }
  return out;
}

const rows: { what: string; p50: number; p99: number }[] = [];
let direct = { p50: 0, p99: 0 };

async function measure(what: string, f: Tool, n = N): Promise<void> {
  const { p50, p99 } = percentiles(await timeCalls(f, n));
  rows.push({ what, p50, p99 });
}

async function embedded(what: string, audit: false | 'normal' | 'full', n = N): Promise<void> {
  const data = await tempDir('cordon-bench-sdk-');
  const config = join(data, 'cordon.yaml');
  await writeFile(config, stringify({ audit: audit ? { sync: audit } : { enabled: false } }));
  const decider = await EmbeddedDecider.open({ config, policies: EXAMPLE_POLICIES, data });
  await measure(what, guard(decider, tool, LEDGER), n);
  await decider.close();
}

async function main(): Promise<void> {
  console.log(`\n## SDK guard() overhead per call (${N} calls each, one at a time)\n`);
  const { p50, p99 } = percentiles(await timeCalls(tool, N));
  direct = { p50, p99 };
  rows.push({ what: 'direct call (no guard)', p50, p99 });

  const engine = await createEngine({ policies: EXAMPLE_POLICIES });
  const request = guardRequest(LEDGER, [{ account: 1 }]);
  await measure('engine.decide alone (the decision guard waits for)', () =>
    engine.decide(request).then(() => ({ account: 1, balance: 100 })),
  );
  await measure(
    'guard over a bare engine (createEngine; nothing recorded)',
    guard(engine as Decider, tool, LEDGER),
  );
  await embedded('embedded, audit off', false);
  await embedded('embedded, audit sync normal', 'normal', quick ? N : N / 4);
  await embedded('embedded, audit sync full (default)', 'full', quick ? 500 : 2_000);

  const node = await startServeNode('bench-sdk', { config: { policies: await sdkPolicies() } });
  try {
    const remote = new RemoteDecider({ url: node.url, timeoutMs: 10_000 });
    await measure(
      'remote cordon serve (HTTP keep-alive, audit on)',
      guard(remote, tool, LEDGER),
      quick ? 500 : 2_000,
    );
    await measure('remote, decision marked @cache_ttl (local cache)', guard(remote, tool, LOOKUP));
    await remote.close();
  } finally {
    await node.stop();
  }

  console.log('| path | p50 µs | p99 µs | added p50 µs | added p99 µs |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.what} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.p50 - direct.p50).toFixed(1)} | ${(r.p99 - direct.p99).toFixed(1)} |`,
    );
  const off = rows.find((r) => r.what === 'embedded, audit off')!;
  const added = off.p50 - direct.p50;
  console.log(
    `\nembedded without audit adds ${added.toFixed(1)} µs at p50 (target ≤ 20 µs): ${added <= 20 ? 'met' : 'NOT met'}`,
  );
}

await main();
