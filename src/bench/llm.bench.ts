// npm run bench (part 4): the LLM gateway. A chat completion through Cordon versus straight to
// the same local provider (its own process), at a fixed rate: added latency p50/p99, and for
// streams the added time to first token. The gateway runs as `cordon serve` with the example
// policies, recording every decision and usage record in its audit log. The peer is the
// Portkey gateway (@portkey-ai/gateway from npm, offline, pointed at the same provider); the
// floor is a bare Node proxy with no logic (testing/bare-proxy.ts): what one more hop costs.

import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { freePort } from '../testing/net.js';
import { CORDON_CLI } from '../testing/mcp.js';
import { startHelper, testingScript, type Helper } from './helpers.js';
import { percentile } from './stats.js';

const quick = process.argv.includes('--quick');
const RATE = 100; // requests per second
const ROUNDS = quick ? 2 : 8; // one-second blocks per path
const KEY = 'gw-bench-key-ledger-bot-alice';

const ms = (x: number) => x.toFixed(2);

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

/**
 * A `cordon serve` in front of the provider, with its own data directory; killed if it does not
 * start.
 */
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
  const helper = await startHelper([CORDON_CLI, 'serve', '--config', config], {
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    stderr: 'ignore',
  });
  return { ...helper, url: `http://127.0.0.1:${port}/llm/openai/v1` };
}

// Every helper started is stopped at the end, whatever fails; one that fails to start is
// stopped by startHelper.
const helpers: Helper[] = [];
const started = <T extends Helper>(h: T): T => {
  helpers.push(h);
  return h;
};
try {
  const provider = started(await startHelper([testingScript('llm-upstream-main.js')])).line;
  const bare = started(await startHelper([testingScript('bare-proxy.js'), provider])).line;
  const full = started(await startCordon(provider, 'full')).url;
  const normal = started(await startCordon(provider, 'normal')).url;
  const portkeyPort = await freePort();
  const require = createRequire(import.meta.url);
  started(
    await startHelper(
      [
        join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js'),
        `--port=${portkeyPort}`,
        '--headless',
      ],
      { readyUrl: `http://127.0.0.1:${portkeyPort}/`, stderr: 'ignore' },
    ),
  );
  const direct = `${provider}/v1`;
  const peer = `http://127.0.0.1:${portkeyPort}/v1`;
  const peerHeaders = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': direct };
  const paths = (stream: boolean) => ({
    direct: () => once(direct, 'none', stream, 'gpt-4.1-mini'),
    'bare Node proxy (no logic: the floor)': () =>
      once(`${bare}/v1`, 'none', stream, 'gpt-4.1-mini'),
    'Cordon (audit sync full, the default)': () => once(full, KEY, stream, 'local/gpt-4.1-mini'),
    'Cordon (audit sync normal)': () => once(normal, KEY, stream, 'local/gpt-4.1-mini'),
    'Portkey (proxy only)': () => once(peer, 'none', stream, 'gpt-4.1-mini', peerHeaders),
  });
  const pair = (xs: number[]) => `${ms(percentile(xs, 0.5))} / ${ms(percentile(xs, 0.99))}`;
  const added = (xs: number[], d: number[]) =>
    `${ms(percentile(xs, 0.5) - percentile(d, 0.5))} / ${ms(percentile(xs, 0.99) - percentile(d, 0.99))}`;
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
        `| ${name} | ${what} | ${pair(xs)} | ${name === 'direct' ? '' : ms(percentile(xs, 0.5) - percentile(s.direct!, 0.5))} |`,
      );
  }
  console.log(
    `\n## LLM gateway (${RATE} requests/s per path, ${ROUNDS} one-second blocks per path taken in turn; local provider in its own process; Cordon: policy, inspection, audit log; Portkey: proxy only)\n`,
  );
  console.log(rows.join('\n'));
  console.log('\n### One request at a time, paths in turn\n');
  console.log(seqRows.join('\n'));
} finally {
  await Promise.all(helpers.map((h) => h.stop()));
}
