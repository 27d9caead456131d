// npm run bench (part 3): the MCP gateway. tools/call latency through Cordon versus straight to
// the same server, at a fixed rate, over stdio and Streamable HTTP; and calls/s with 8 callers.
// The gateway records every decision in its audit log, as it does in production.

import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { AuditLog } from '../audit/log.js';
import { Engine } from '../core/engine.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { freePort } from '../testing/net.js';
import {
  CORDON_CLI,
  EVERYTHING_SERVER,
  inProcessGateway,
  issueToken,
  startHttpGateway,
} from '../testing/mcp.js';
import { startHelper, testingScript } from './helpers.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
// The SDK's Streamable HTTP client leaves an abort listener per call on its transport's signal
// and warns past 1,500 of them, thousands of lines per run; other warnings are still printed
// (scripts/bench.mjs runs this bench with --no-warnings).
process.on('warning', (w) => {
  if (w.name !== 'MaxListenersExceededWarning') console.error(w);
});
const CLI = CORDON_CLI;
const EVERYTHING = EVERYTHING_SERVER;
const STDIO_RELAY = testingScript('stdio-relay.js');
const BARE_PROXY = testingScript('bare-proxy.js');
const node = process.execPath;
const RATE = 200; // calls per second
const SECONDS = quick ? 2 : 8; // one-second blocks per path

const call = (c: Client) => c.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });

/** Latencies at a fixed arrival rate (open loop) for one second. */
async function oneSecond(c: Client, lat: number[]) {
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < RATE; i++) {
    const wait = start + (i * 1000) / RATE - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const t = performance.now();
        await call(c);
        lat.push(performance.now() - t);
      })(),
    );
  }
  await Promise.all(inflight);
}

/**
 * Latency of each client at the same fixed rate, in 1-second blocks taken in turn: a slow second
 * of the VM falls on every path alike. Then calls/s of each with 8 closed-loop callers.
 */
async function measure(clients: Client[]) {
  for (const c of clients) for (let i = 0; i < 100; i++) await call(c);
  const lat = clients.map(() => [] as number[]);
  for (let round = 0; round < SECONDS; round++)
    for (const [k, c] of clients.entries()) await oneSecond(c, lat[k]!);
  const out = [];
  for (const [k, c] of clients.entries())
    out.push({ ...percentiles(lat[k]!), rate: await throughput(c) });
  return out;
}

async function throughput(c: Client) {
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() < until) {
        await call(c);
        done++;
      }
    }),
  );
  return done / SECONDS;
}

/**
 * A client over stdio that keeps the child's last stderr, to say why a run died; the child is
 * stopped if the client cannot connect.
 */
async function stdioClient(command: string, args: string[], logs: (() => string)[]) {
  const transport = new StdioClientTransport({ command, args, stderr: 'pipe' });
  let tail = '';
  transport.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-3000);
  });
  logs.push(() => `--- stderr of ${args.slice(0, 3).join(' ')} ---\n${tail}`);
  const client = new Client({ name: 'bench', version: '1' });
  try {
    await client.connect(transport);
  } catch (e) {
    await transport.close();
    throw e;
  }
  return client;
}

const failures: string[] = [];

/** One part of the bench: a failure is reported with the processes' stderr, and the rest runs. */
async function section(name: string, fn: (logs: (() => string)[]) => Promise<void>) {
  const logs: (() => string)[] = [];
  try {
    await fn(logs);
  } catch (e) {
    failures.push(`${name}: ${(e as Error).message}\n${logs.map((l) => l()).join('\n')}`);
  }
}

async function main() {
  const policies = await tempDir('cordon-mcp-bench-');
  await cp(join(EXAMPLE_POLICIES, 'schema.cedarschema'), join(policies, 'schema.cedarschema'));
  await cp(join(EXAMPLE_POLICIES, 'entities.json'), join(policies, 'entities.json'));
  await writeFile(
    join(policies, 'p.cedar'),
    'permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"everything");',
  );
  const rows: string[] = [
    `| transport | direct p50 / p99 | through Cordon p50 / p99 | added p50 / p99 | direct calls/s | through Cordon calls/s |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  type Measured = Awaited<ReturnType<typeof measure>>[number];
  const row = (name: string, d: Measured, g: Measured) =>
    rows.push(
      `| ${name} | ${d.p50.toFixed(2)} / ${d.p99.toFixed(2)} ms | ${g.p50.toFixed(2)} / ${g.p99.toFixed(2)} ms | ${(g.p50 - d.p50).toFixed(2)} / ${(g.p99 - d.p99).toFixed(2)} ms | ${Math.round(d.rate)} | ${Math.round(g.rate)} |`,
    );

  // stdio: the client spawns the server, or the gateway that spawns it.
  await section('stdio', async (logs) => {
    // Every client (and so every child it spawned) is closed, whether the section ends or fails.
    const clients: Client[] = [];
    const open = async (args: string[]) => {
      const c = await stdioClient(node, args, logs);
      clients.push(c);
      return c;
    };
    try {
      const direct = await open([EVERYTHING, 'stdio']);
      const gateway = async (sync: string) =>
        open([
          CLI,
          'mcp',
          'serve',
          '--policies',
          policies,
          '--data',
          await tempDir('cordon-mcp-bench-'),
          '--agent',
          'coding-agent',
          '--name',
          'everything',
          '--log-level',
          'warn',
          '--audit-sync',
          sync,
          '--',
          node,
          EVERYTHING,
          'stdio',
        ]);
      const normal = await gateway('normal');
      const full = await gateway('full');
      const relay = await open([STDIO_RELAY, node, EVERYTHING, 'stdio']);
      const [d, g, f, r] = await measure([direct, normal, full, relay]);
      row('stdio (`mcp serve` default: audit sync normal)', d!, g!);
      row('stdio, audit sync full', d!, f!);
      row('stdio, a bare relay process (no logic: the floor)', d!, r!);
    } finally {
      for (const c of clients) await c.close().catch(() => {});
    }
  });

  // Streamable HTTP: the server on its own port; the gateway in front of it on another.
  await section('Streamable HTTP', async () => {
    const upPort = await freePort();
    const upUrl = `http://127.0.0.1:${upPort}/mcp`;
    const up = await startHelper([EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(upPort) },
      readyUrl: upUrl,
      stderr: 'ignore',
    });
    try {
      const data = await tempDir('cordon-mcp-bench-');
      const gw = await startHttpGateway({
        policies,
        data,
        name: 'everything',
        args: ['--url', upUrl],
      });
      try {
        const direct = new Client({ name: 'bench', version: '1' });
        await direct.connect(new StreamableHTTPClientTransport(new URL(upUrl)));
        const token = issueToken(data, 'alice', 'coding-agent', '1h');
        const via = new Client({ name: 'bench', version: '1' });
        await via.connect(
          new StreamableHTTPClientTransport(new URL(gw.url), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        const bare = await startHelper([BARE_PROXY, `http://127.0.0.1:${upPort}`], {
          stderr: 'ignore',
        });
        try {
          const floor = new Client({ name: 'bench', version: '1' });
          await floor.connect(new StreamableHTTPClientTransport(new URL(`${bare.line}/mcp`)));
          const [d, g, r] = await measure([direct, via, floor]);
          for (const c of [direct, via, floor]) await c.close();
          row('Streamable HTTP (bearer token, user + agent evaluated)', d!, g!);
          row('Streamable HTTP, a bare Node proxy (no logic: the floor)', d!, r!);
        } finally {
          await bare.stop();
        }
      } finally {
        gw.stop();
      }
    } finally {
      await up.stop();
    }
  });

  console.log(
    `\n## MCP gateway (tools/call of get-sum on server-everything; ${RATE} calls/s per path in ${SECONDS} one-second blocks per path taken in turn, then 8 callers)\n`,
  );
  console.log(rows.join('\n'));

  // The gateway's own cost, without the extra process hop: the gateway in this process (the
  // client talks to it in memory), the server over stdio as before; one call at a time.
  const compiled = await loadPolicyDir(policies);
  if (!compiled.ok) throw new Error('bench policies do not compile');
  const sequential = async (c: Client) => {
    for (let i = 0; i < 200; i++) await call(c);
    const lat: number[] = [];
    for (let i = 0; i < (quick ? 500 : 2000); i++) {
      const t = performance.now();
      await call(c);
      lat.push(performance.now() - t);
    }
    const p = percentiles(lat);
    return `${p.p50.toFixed(2)} / ${p.p99.toFixed(2)} ms`;
  };
  const inproc: string[] = ['| path (one call at a time) | p50 / p99 |', '|---|---:|'];
  const direct = new Client({ name: 'bench', version: '1' });
  await direct.connect(
    new StdioClientTransport({ command: node, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }),
  );
  inproc.push(`| client → server (stdio) | ${await sequential(direct)} |`);
  await direct.close();
  for (const recorded of [undefined, 'full', 'normal'] as const) {
    const log = recorded
      ? await AuditLog.open(await tempDir('cordon-mcp-bench-'), { sync: recorded })
      : undefined;
    const decisions = new DecisionService(
      new Engine({ policies: { current: () => compiled.set } }),
      new Metrics(),
      pino({ level: 'silent' }),
      log,
    );
    const gw = await inProcessGateway({
      upstreams: [{ name: 'everything', command: node, args: [EVERYTHING, 'stdio'] }],
      decisions,
      identity: { agent: 'coding-agent' },
    });
    inproc.push(
      `| client → Cordon (in process, audit ${recorded ? `on, sync ${recorded}` : 'off'}) → server (stdio) | ${await sequential(gw.client)} |`,
    );
    await gw.close();
    await log?.close();
  }
  console.log("\n### The gateway's own cost (no extra process)\n");
  console.log(inproc.join('\n'));
  if (failures.length > 0) {
    console.log(`\n### Failed\n\n${failures.join('\n\n')}`);
    process.exitCode = 1;
  }
}

await main();
