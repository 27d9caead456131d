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

interface Path {
  what: string;
  f: Tool;
  /** Calls per round (the slow paths take fewer). */
  batch: number;
  samples: number[];
}

/**
 * Every path, in rounds: each round times a batch of each, in turn, so a change in the machine's
 * load (this VM is shared) falls on all of them alike instead of on whichever ran then.
 */
async function rounds(paths: Path[], n: number): Promise<void> {
  for (const p of paths) await timeCalls(p.f, Math.min(WARMUP, p.batch)); // warm-up
  for (let r = 0; r < n; r++)
    for (const p of paths) p.samples.push(...(await timeCalls(p.f, p.batch)));
}

async function embedded(audit: false | 'normal' | 'full'): Promise<EmbeddedDecider> {
  const data = await tempDir('cordon-bench-sdk-');
  const config = join(data, 'cordon.yaml');
  await writeFile(config, stringify({ audit: audit ? { sync: audit } : { enabled: false } }));
  return EmbeddedDecider.open({ config, policies: EXAMPLE_POLICIES, data });
}

async function main(): Promise<void> {
  const engine = await createEngine({ policies: EXAMPLE_POLICIES });
  const request = guardRequest(LEDGER, [{ account: 1 }]);
  const off = await embedded(false);
  const normal = await embedded('normal');
  const full = await embedded('full');
  const node = await startServeNode('bench-sdk', { config: { policies: await sdkPolicies() } });
  const remote = new RemoteDecider({ url: node.url, timeoutMs: 10_000 });
  const R = quick ? 4 : 20;
  const fast = N / R;
  const slow = Math.max(25, fast / 20);
  const path = (what: string, f: Tool, batch = fast): Path => ({ what, f, batch, samples: [] });
  const paths = [
    path('direct call (no guard)', tool),
    path('engine.decide alone (the decision guard waits for)', () =>
      engine.decide(request).then(() => ({ account: 1, balance: 100 })),
    ),
    path(
      'guard over a bare engine (createEngine; nothing recorded)',
      guard(engine as Decider, tool, LEDGER),
    ),
    path('embedded, audit off', guard(off, tool, LEDGER)),
    path('embedded, audit sync normal', guard(normal, tool, LEDGER), slow),
    path('embedded, audit sync full (default)', guard(full, tool, LEDGER), slow),
    path('remote cordon serve (HTTP keep-alive, audit on)', guard(remote, tool, LEDGER), slow),
    path('remote, decision marked @cache_ttl (local cache)', guard(remote, tool, LOOKUP)),
  ];
  try {
    await rounds(paths, R);
  } finally {
    await remote.close();
    await node.stop();
    await Promise.all([off.close(), normal.close(), full.close()]);
  }
  console.log(`\n## SDK guard() overhead per call (${R} rounds; ${N} calls of the fast paths)\n`);
  console.log('| path | calls | p50 µs | p99 µs | added p50 µs | added p99 µs |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const direct = percentiles(paths[0]!.samples);
  const stats = paths.map((p) => ({
    what: p.what,
    n: p.samples.length,
    ...percentiles(p.samples),
  }));
  for (const r of stats)
    console.log(
      `| ${r.what} | ${r.n} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${(r.p50 - direct.p50).toFixed(1)} | ${(r.p99 - direct.p99).toFixed(1)} |`,
    );
  const added = stats.find((r) => r.what === 'embedded, audit off')!.p50 - direct.p50;
  console.log(
    `\nembedded without audit adds ${added.toFixed(1)} µs at p50 (target ≤ 20 µs): ${added <= 20 ? 'met' : 'NOT met'}`,
  );
}

await main();
