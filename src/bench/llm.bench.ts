// npm run bench (part 4): the LLM gateway. A chat completion through Cordon versus straight to
// the same local provider (its own process), at a fixed rate: added latency p50/p99, and for
// streams the added time to first token. The gateway runs as `cordon serve` with the example
// policies, recording every decision and usage record in its audit log. The peer is the
// Portkey gateway (@portkey-ai/gateway from npm, offline, pointed at the same provider); the
// floor is a bare Node proxy with no logic (testing/bare-proxy.ts): what one more hop costs.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { freePort, waitForHttp } from '../testing/net.js';
import { CORDON_CLI } from '../testing/mcp.js';

const quick = process.argv.includes('--quick');
const RATE = 100; // requests per second
const ROUNDS = quick ? 2 : 8; // one-second blocks per path
const KEY = 'gw-bench-key-ledger-bot-alice';

const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const ms = (x: number) => x.toFixed(2);

/** A helper process of ../testing that prints its URL once it listens. */
function startHelper(
  file: string,
  args: string[] = [],
): Promise<{ url: string; child: ChildProcess }> {
  const main = fileURLToPath(new URL(`../testing/${file}`, import.meta.url));
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ url: d.toString().trim(), child }));
    child.once('exit', (code) => reject(new Error(`provider exited ${code}`)));
  });
}

const chat = (stream: boolean) =>
  JSON.stringify({
    model: 'local/gpt-4.1-mini',
    stream,
    messages: [{ role: 'user', content: 'a short question for the benchmark' }],
  });

/** Total time (non-streaming) or time to the first content delta (streaming). */
async function once(
  url: string,
  auth: string,
  stream: boolean,
  model: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}`, ...headers },
    body: chat(stream).replace('local/gpt-4.1-mini', model),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  if (!stream) {
    await res.json();
    return performance.now() - t;
  }
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let seen = '';
  let first = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    seen += dec.decode(r.value, { stream: true });
    if (!first && /"content":"[^"]/.test(seen)) first = performance.now() - t;
  }
  if (!first) throw new Error(`a stream without content: ${seen.slice(0, 200)}`);
  return first;
}

/** Latencies at a fixed arrival rate (open loop) for `seconds`. */
async function atRate(fn: () => Promise<number>, seconds: number, out: number[]): Promise<void> {
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < RATE * seconds; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(fn().then((x) => void out.push(x)));
  }
  await Promise.all(inflight);
}

/**
 * Every path at the same rate, in 1-second blocks taken in turn (direct, Cordon, …, direct, …):
 * a VM's slow second falls on all paths alike instead of on whichever ran then, and no path
 * shares its second with another's load.
 */
async function interleaved(
  paths: Record<string, () => Promise<number>>,
): Promise<Record<string, number[] | string>> {
  const out: Record<string, number[] | string> = {};
  for (const [name, fn] of Object.entries(paths)) {
    try {
      for (let i = 0; i < 50; i++) await fn();
      out[name] = [];
    } catch (e) {
      out[name] = `failed: ${(e as Error).message.slice(0, 80)}`;
    }
  }
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, fn] of Object.entries(paths)) {
      const xs = out[name];
      if (Array.isArray(xs)) await atRate(fn, 1, xs);
    }
  return out;
}

/** One request at a time, the paths taken in turn request by request: the gateway's own cost. */
async function sequential(paths: Record<string, () => Promise<number>>) {
  const out: Record<string, number[]> = Object.fromEntries(
    Object.keys(paths).map((k) => [k, [] as number[]]),
  );
  for (let i = 0; i < (quick ? 300 : 1500); i++)
    for (const [name, fn] of Object.entries(paths)) {
      const x = await fn();
      if (i >= 100) out[name]!.push(x);
    }
  return out;
}

/** A `cordon serve` in front of the provider, with its own data directory. */
async function startCordon(providerUrl: string, sync: 'full' | 'normal') {
  const dir = await tempDir('cordon-bench-llm-');
  const port = await freePort();
  const config = join(dir, 'cordon.yaml');
  await writeFile(
    config,
    stringify({
      policies: EXAMPLE_POLICIES,
      data: join(dir, 'data'),
      port,
      watch: false,
      log: { level: 'warn' },
      audit: { sync },
      llm: {
        upstreams: [{ name: 'local', api: 'openai', baseUrl: `${providerUrl}/v1` }],
        keys: { [KEY]: { agent: 'ledger-bot', user: 'alice' } },
      },
    }),
  );
  const child = spawn(process.execPath, [CORDON_CLI, 'serve', '--config', config], {
    stdio: 'ignore',
  });
  await waitForHttp(`http://127.0.0.1:${port}/healthz`);
  return { url: `http://127.0.0.1:${port}/llm/openai/v1`, child };
}

const provider = await startHelper('llm-upstream-main.js');
const children: ChildProcess[] = [provider.child];
try {
  const bare = await startHelper('bare-proxy.js', [provider.url]);
  children.push(bare.child);
  const full = await startCordon(provider.url, 'full');
  const normal = await startCordon(provider.url, 'normal');
  children.push(full.child, normal.child);
  const portkeyPort = await freePort();
  const require = createRequire(import.meta.url);
  const portkey = spawn(
    process.execPath,
    [
      join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js'),
      `--port=${portkeyPort}`,
      '--headless',
    ],
    { stdio: 'ignore' },
  );
  children.push(portkey);
  await waitForHttp(`http://127.0.0.1:${portkeyPort}/`);
  const direct = `${provider.url}/v1`;
  const peer = `http://127.0.0.1:${portkeyPort}/v1`;
  const peerHeaders = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': direct };
  const paths = (stream: boolean) => ({
    direct: () => once(direct, 'none', stream, 'gpt-4.1-mini'),
    'bare Node proxy (no logic: the floor)': () =>
      once(`${bare.url}/v1`, 'none', stream, 'gpt-4.1-mini'),
    'Cordon (audit sync full, the default)': () =>
      once(full.url, KEY, stream, 'local/gpt-4.1-mini'),
    'Cordon (audit sync normal)': () => once(normal.url, KEY, stream, 'local/gpt-4.1-mini'),
    'Portkey (proxy only)': () => once(peer, 'none', stream, 'gpt-4.1-mini', peerHeaders),
  });
  const pair = (xs: number[]) => `${ms(pct(xs, 0.5))} / ${ms(pct(xs, 0.99))}`;
  const added = (xs: number[], d: number[]) =>
    `${ms(pct(xs, 0.5) - pct(d, 0.5))} / ${ms(pct(xs, 0.99) - pct(d, 0.99))}`;
  const rows: string[] = [
    '| path | measure | p50 / p99 (ms) | added p50 / p99 (ms) |',
    '| --- | --- | --- | --- |',
  ];
  const seqRows: string[] = [
    '| path | measure | p50 / p99 (ms) | added p50 (ms) |',
    '| --- | --- | --- | --- |',
  ];
  for (const stream of [false, true]) {
    const what = stream ? 'time to first token (streamed)' : 'chat completion, not streamed';
    const r = await interleaved(paths(stream));
    const d = r.direct as number[];
    for (const [name, xs] of Object.entries(r))
      rows.push(
        typeof xs === 'string'
          ? `| ${name} | ${what} | ${xs} | |`
          : `| ${name} | ${what} | ${pair(xs)} | ${name === 'direct' ? '' : added(xs, d)} |`,
      );
    const { 'Portkey (proxy only)': _peer, ...ours } = paths(stream);
    const s = await sequential(ours);
    for (const [name, xs] of Object.entries(s))
      seqRows.push(
        `| ${name} | ${what} | ${pair(xs)} | ${name === 'direct' ? '' : ms(pct(xs, 0.5) - pct(s.direct!, 0.5))} |`,
      );
  }
  console.log(
    `\n## LLM gateway (${RATE} requests/s per path, ${ROUNDS} one-second blocks per path taken in turn; local provider in its own process; Cordon: policy, inspection, audit log; Portkey: proxy only)\n`,
  );
  console.log(rows.join('\n'));
  console.log('\n### One request at a time, paths in turn\n');
  console.log(seqRows.join('\n'));
} finally {
  for (const c of children) c.kill('SIGTERM');
}
