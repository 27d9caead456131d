// Helpers for tests and benches that run the MCP gateway as users do: the CLI, on HTTP.

import { spawn, spawnSync } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { GatewaySession, type GatewayOptions } from '../pep/mcp/gateway.js';
import { PIN_FILE, ToolPins } from '../pep/mcp/pins.js';
import { pino } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { Engine } from '../core/engine.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { EXAMPLE_POLICIES, tempDir } from './fixtures.js';
import { freePort, waitForHttp } from './net.js';

const require = createRequire(import.meta.url);
export const CORDON_CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
export const EVERYTHING_SERVER =
  require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

/**
 * `cordon mcp serve --listen http://127.0.0.1:<free port>` with the given options and upstream
 * (`['--', cmd…]` or `['--url', url]`); resolves once it answers.
 */
export async function startHttpGateway(o: {
  policies: string;
  data: string;
  name: string;
  args: string[];
}): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      CORDON_CLI,
      'mcp',
      'serve',
      '--policies',
      o.policies,
      '--data',
      o.data,
      '--name',
      o.name,
      '--listen',
      `http://127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...o.args,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}/mcp`;
  try {
    // Start-up (policy compile, key creation) takes seconds on a loaded machine.
    await waitForHttp(url, 30_000);
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  return { url, stop: () => void child.kill('SIGTERM') };
}

/** A root delegation token from the CLI, signed with the keys in `data`. */
export function issueToken(data: string, user: string, agent: string, ttl = '10m'): string {
  return spawnSync(
    process.execPath,
    [CORDON_CLI, 'token', 'issue', '--user', user, '--agent', agent, '--ttl', ttl, '--data', data],
    { encoding: 'utf8' },
  ).stdout.trim();
}

/** A gateway session in this process, and an SDK client connected to it in memory. */
export async function inProcessGateway(opts: GatewayOptions) {
  const session = await GatewaySession.open(opts);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await session.server.connect(b);
  const client = new Client({ name: 'in-process', version: '1' });
  await client.connect(a);
  return {
    client,
    session,
    async close() {
      await client.close();
      await session.close();
    },
  };
}

/**
 * Tool pins that take the servers' annotations as attributes: for tests about something other
 * than pinning, whose servers' annotations say what the test needs (pins.test.ts tests pins).
 */
export const TRUST_ANNOTATIONS = new ToolPins({ version: 1, unpinned: 'annotations', tools: {} });

/** A pin file with TRUST_ANNOTATIONS' content, for `cordon mcp serve --pins`. */
export async function trustAnnotationsPinFile(): Promise<string> {
  const path = join(await tempDir('cordon-mcp-pins-'), PIN_FILE);
  await writeFile(path, JSON.stringify(TRUST_ANNOTATIONS.file));
  return path;
}

/**
 * A policy directory: the shipped schema and entities (plus Agent::"intruder"), `text`, and a
 * pin file trusting the servers' annotations (see TRUST_ANNOTATIONS).
 */
export async function mcpPolicyDir(text: string): Promise<string> {
  const dir = await tempDir('cordon-mcp-policies-');
  await cp(join(EXAMPLE_POLICIES, 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  const entities = JSON.parse(
    await readFile(join(EXAMPLE_POLICIES, 'entities.json'), 'utf8'),
  ) as unknown[];
  entities.push({
    uid: { type: 'Agent', id: 'intruder' },
    attrs: { risk_level: 'high', owner: 'nobody' },
    parents: [],
  });
  await writeFile(join(dir, 'entities.json'), JSON.stringify(entities));
  await writeFile(join(dir, 'policies.cedar'), text);
  await writeFile(join(dir, PIN_FILE), JSON.stringify(TRUST_ANNOTATIONS.file));
  return dir;
}

/** The gateway on stdio, spoken to line by line: what it really writes, in order. */
export async function rawGateway(args: string[], protocolVersion = '2025-06-18') {
  const child = spawn(
    process.execPath,
    [CORDON_CLI, 'mcp', 'serve', '--data', await tempDir(), '--log-level', 'silent', ...args],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  const lines: {
    id?: unknown;
    method?: string;
    params?: Record<string, unknown>;
    error?: { code: number };
    result?: unknown;
  }[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as (typeof lines)[number]);
      buf = buf.slice(i + 1);
    }
  });
  const send = (line: unknown) =>
    child.stdin.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
  send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion,
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    },
  });
  send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  // Generous: a loaded CI machine can take many seconds to start the gateway and its server.
  // It returns either way, so the caller kills the gateway before its assertion names the gap.
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 900 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
  };
  return { lines, send, until, kill: () => child.kill() };
}

/** In-process decisions under the MCP test policy directory with `policies`, logged to `log`. */
export async function mcpDecisions(policies: string, log?: AuditLog): Promise<DecisionService> {
  const compiled = await loadPolicyDir(await mcpPolicyDir(policies));
  if (!compiled.ok) throw new Error(JSON.stringify(compiled));
  const engine = new Engine({ policies: { current: () => compiled.set } });
  return new DecisionService(engine, new Metrics(), pino({ level: 'silent' }), log);
}
