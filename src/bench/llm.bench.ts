// npm run bench (part 4): the LLM gateway. A chat completion through Cordon versus straight to
// the same local provider (its own process), at a fixed rate: added latency p50/p99, and for
// streams the added time to first token. The gateway runs as `cordon serve` with the example
// policies, recording every decision and usage record in its audit log. The peer is the
// Portkey gateway (@portkey-ai/gateway from npm, offline, pointed at the same provider).

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
const SECONDS = quick ? 2 : 6;
const KEY = 'gw-bench-key-ledger-bot-alice';

const pct = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const ms = (x: number) => x.toFixed(2);

function startProvider(): Promise<{ url: string; child: ChildProcess }> {
  const main = fileURLToPath(new URL('../testing/llm-upstream-main.js', import.meta.url));
  const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  return first;
}

/** Latencies at a fixed arrival rate (open loop). */
async function atRate(fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < 50; i++) await fn();
  const out: number[] = [];
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < RATE * SECONDS; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(fn().then((x) => void out.push(x)));
  }
  await Promise.all(inflight);
  return out;
}

const provider = await startProvider();
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
    llm: {
      upstreams: [{ name: 'local', api: 'openai', baseUrl: `${provider.url}/v1` }],
      keys: { [KEY]: { agent: 'ledger-bot', user: 'alice' } },
    },
  }),
);
const gateway = spawn(process.execPath, [CORDON_CLI, 'serve', '--config', config], {
  stdio: 'ignore',
});
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
try {
  await waitForHttp(`http://127.0.0.1:${port}/healthz`);
  await waitForHttp(`http://127.0.0.1:${portkeyPort}/`);
  const direct = `${provider.url}/v1`;
  const via = `http://127.0.0.1:${port}/llm/openai/v1`;
  const peer = `http://127.0.0.1:${portkeyPort}/v1`;
  const peerHeaders = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': direct };
  const rows: string[] = [
    '| path | direct p50 / p99 (ms) | through Cordon p50 / p99 (ms) | Cordon added p50 / p99 (ms) | through Portkey p50 / p99 (ms) | Portkey added p50 / p99 (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const pair = (xs: number[]) => `${ms(pct(xs, 0.5))} / ${ms(pct(xs, 0.99))}`;
  const added = (xs: number[], d: number[]) =>
    `${ms(pct(xs, 0.5) - pct(d, 0.5))} / ${ms(pct(xs, 0.99) - pct(d, 0.99))}`;
  for (const stream of [false, true]) {
    const d = await atRate(() => once(direct, 'none', stream, 'gpt-4.1-mini'));
    const g = await atRate(() => once(via, KEY, stream, 'local/gpt-4.1-mini'));
    let p: number[] | string;
    try {
      p = await atRate(() => once(peer, 'none', stream, 'gpt-4.1-mini', peerHeaders));
    } catch (e) {
      p = `failed: ${(e as Error).message.slice(0, 80)}`;
    }
    const what = stream ? 'streamed: time to first token' : 'chat completion, not streamed';
    const peerCells = typeof p === 'string' ? `${p} | ` : `${pair(p)} | ${added(p, d)}`;
    rows.push(`| ${what} | ${pair(d)} | ${pair(g)} | ${added(g, d)} | ${peerCells} |`);
  }
  console.log(
    `\n## LLM gateway (${RATE} requests/s for ${SECONDS} s; local provider in its own process; Cordon: policy, inspection, audit sync full; Portkey: proxy only)\n`,
  );
  console.log(rows.join('\n'));
} finally {
  gateway.kill('SIGTERM');
  portkey.kill('SIGTERM');
  provider.child.kill('SIGTERM');
}
