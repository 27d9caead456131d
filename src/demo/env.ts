// The world `cordon demo` runs its stories in, started in one temporary directory: a copy of the
// demo organization's policies, the decision point (openPdp: audit log, tokens, baselines,
// isolation) with its data directory, its HTTP API on a loopback port (decisions, token
// exchange, the LLM gateway), a local model provider speaking the OpenAI and Anthropic wire
// formats, and MCP gateway sessions in front of real stdio MCP servers. What each story does is
// read back from the audit log, so the report shows what the layers themselves recorded.

import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import type { AuditRecord } from '../audit/record.js';
import { parseConfig, type CordonConfig } from '../config/config.js';
import { GatewaySession, type GatewayIdentity } from '../pep/mcp/gateway.js';
import { ToolPins } from '../pep/mcp/pins.js';
import { openPdp, type Pdp } from '../runtime/pdp.js';
import { serveApi, type RunningApi } from '../runtime/start.js';
import { startFakeProvider, type FakeProvider } from './model-server.js';

/** What the demo's agents put in their SDK's apiKey for the LLM gateway (llm.keys). */
export const DEMO_LLM_KEY = 'demo-key-ledger-bot-for-alice';
const UPSTREAM_KEY_ENV = 'CORDON_DEMO_UPSTREAM_KEY';

const script = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));
export const ORG_SERVER = script('org-server');
export const HELPDESK_SERVER = script('helpdesk-server');

/**
 * The kernel sandbox's paths are absolute in the organization's policies (`/workspace/analyst-*`);
 * the demo must not touch the machine's own /workspace, so its copy roots them in the temp dir.
 */
const SANDBOX_PATHS = ['/workspace/analyst-', '/var/run/secrets/analyst-key'];

/** One record as the report shows it: which layer decided what, and why. */
export interface Seen {
  seq: number;
  id: string;
  pep: string;
  kind?: string;
  agent?: string;
  user?: string;
  action: string;
  resource: string;
  decision: string;
  reasons: string[];
  /** The reasons for the report: each policy with the principal it decided for (agent, user). */
  why: string[];
  /** What the layer saw that the decision used: depth, content findings, novelty, risk. */
  saw: string[];
  parent?: string;
}

/** The facts worth showing: only those that are not the default. */
function sawOf(r: AuditRecord): string[] {
  const f = r.facts;
  const saw: string[] = [];
  if ((f.delegation?.depth ?? 0) > 1) saw.push(`depth ${f.delegation.depth}`);
  if (f.content?.injection) saw.push(`injection ${f.content.injection}`);
  if (f.content?.secrets?.length) saw.push(`secrets ${f.content.secrets.join('+')}`);
  if (f.content?.pii?.length) saw.push(`pii ${f.content.pii.join('+')}`);
  if (f.session?.labels?.length) saw.push(`session labels ${f.session.labels.join('+')}`);
  const novel = Object.entries(f.baseline?.novel ?? {})
    .filter(([, v]) => v)
    .map(([k]) => k);
  if (f.baseline?.mode === 'enforce' && novel.length) saw.push(`novel ${novel.join('+')}`);
  if (f.risk?.score) saw.push(`risk ${f.risk.score} (${f.risk.level})`);
  return saw;
}

export const seenOf = (r: AuditRecord): Seen => ({
  seq: r.seq,
  id: r.id,
  pep: r.pep,
  ...(r.kind ? { kind: r.kind } : {}),
  ...(r.agent ? { agent: r.agent } : {}),
  ...(r.user ? { user: r.user } : {}),
  action: r.action,
  resource: `${r.resource.type}::"${r.resource.id}"`,
  decision: r.decision,
  reasons: [...new Set(r.reasons.map((x) => x.policy))],
  why: [
    ...new Set(r.reasons.map((x) => (x.principal ? `${x.policy} (${x.principal})` : x.policy))),
  ],
  saw: r.facts ? sawOf(r) : [],
  ...(r.parent ? { parent: r.parent } : {}),
});

/** A tool call through the gateway, as the agent saw it. */
export interface ToolOutcome {
  outcome: 'allow' | 'deny' | 'require_approval';
  text: string;
  decisionId?: string;
}

export interface McpAgent {
  call(tool: string, args: Record<string, unknown>): Promise<ToolOutcome>;
  close(): Promise<void>;
}

export interface DemoEnvOptions {
  /** Where everything goes (created when absent; the caller checks it is empty). */
  dir: string;
  /** The policy directory to copy (default: the shipped examples/policies). */
  policies: string;
}

export class DemoEnv {
  readonly policies: string;
  readonly data: string;
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly pdp: Pdp,
    readonly api: RunningApi,
    readonly config: CordonConfig,
    private readonly provider: FakeProvider,
  ) {
    this.policies = config.policies;
    this.data = config.data;
  }

  static async start(o: DemoEnvOptions): Promise<DemoEnv> {
    await mkdir(o.dir, { recursive: true });
    const policies = join(o.dir, 'policies');
    await cp(o.policies, policies, { recursive: true });
    await rootSandboxPaths(policies, o.dir);
    // The local provider answers on a port chosen now; the LLM gateway's upstreams name it.
    const provider = await startFakeProvider();
    process.env[UPSTREAM_KEY_ENV] = 'sk-demo-upstream-key-never-shown-to-agents';
    const config = parseConfig(
      {
        policies,
        data: join(o.dir, 'data'),
        port: 0,
        watch: false,
        log: { level: 'silent' },
        // As in docs/walkthrough-support-agent.md: a medium-risk request that policies allow goes
        // through instead of waiting for a person, so the stories show the layers behind that
        // gate (a demo has no one to answer an approval).
        risk: { responses: { medium: 'allow' } },
        llm: {
          upstreams: [
            {
              name: 'local',
              api: 'openai',
              baseUrl: `${provider.url}/v1`,
              apiKeyEnv: UPSTREAM_KEY_ENV,
            },
            {
              name: 'claude',
              api: 'anthropic',
              baseUrl: provider.url,
              apiKeyEnv: UPSTREAM_KEY_ENV,
            },
          ],
          keys: { [DEMO_LLM_KEY]: { agent: 'ledger-bot', user: 'alice' } },
        },
      },
      'the demo configuration',
    );
    const log = pino({ level: 'silent' });
    let pdp: Pdp | undefined;
    try {
      pdp = await openPdp(config, log);
      const api = await serveApi(pdp, config, log, { host: '127.0.0.1', port: 0 });
      return new DemoEnv(o.dir, pdp, api, config, provider);
    } catch (e) {
      await pdp?.close();
      await provider.close();
      throw e;
    }
  }

  /** The local model provider's URL (what the LLM gateway forwards to). */
  get providerUrl(): string {
    return this.provider.url;
  }

  /** The number of records in the log so far: a mark to read what came after. */
  mark(): number {
    return this.pdp.audit?.size ?? 0;
  }

  /** The records appended since `mark`, in order. */
  async since(mark: number): Promise<AuditRecord[]> {
    const audit = this.pdp.audit;
    if (!audit) return [];
    const n = audit.size - mark;
    if (n <= 0) return [];
    return (await audit.store.tail(n)).map((r) => JSON.parse(r.record) as AuditRecord);
  }

  /** An agent connected to the MCP gateway in front of one stdio server, as `identity`. */
  async mcp(
    server: { name: string; command: string; args: string[]; env?: Record<string, string> },
    identity: GatewayIdentity,
  ): Promise<McpAgent> {
    const session = await GatewaySession.open({
      upstreams: [
        {
          name: server.name,
          command: server.command,
          args: server.args,
          env: { ...(process.env as Record<string, string>), ...server.env },
        },
      ],
      decisions: this.pdp.decisions,
      identity,
      // The demo servers' annotations (read-only, destructive) are what their tools are.
      pins: new ToolPins({ version: 1, unpinned: 'annotations', tools: {} }),
      isolation: this.pdp.isolation,
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await session.server.connect(b);
    const client = new Client({ name: 'cordon-demo-agent', version: '1' });
    await client.connect(a);
    return {
      async call(tool, args) {
        const r = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
        const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
        const meta = r._meta?.['cordon/decision'] as
          { id: string; decision: ToolOutcome['outcome'] } | undefined;
        if (!r.isError) return { outcome: 'allow', text };
        return {
          outcome: meta?.decision === 'require_approval' ? 'require_approval' : 'deny',
          text,
          ...(meta ? { decisionId: meta.id } : {}),
        };
      },
      async close() {
        await client.close();
        await session.close();
      },
    };
  }

  /** A root delegation token: `user` has `chain` (usually one agent) act for them. */
  async token(user: string, chain: string[]): Promise<string> {
    return (await this.pdp.tokens.issue({ user, chain, scope: '*', ttlSeconds: 600 })).token;
  }

  /** POST to the PDP's HTTP API; the JSON answer and its status. */
  async post(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
    const res = await fetch(`${this.api.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // A stream or an empty body: the text is what there is.
    }
    return { status: res.status, body: parsed, text };
  }

  /** Stops the API, the decision point (the log's last checkpoint is signed) and the provider. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.api.close();
    await this.pdp.close();
    await this.provider.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

async function rootSandboxPaths(policies: string, root: string): Promise<void> {
  for (const f of await readdir(policies)) {
    if (!f.endsWith('.cedar')) continue;
    const file = join(policies, f);
    const text = await readFile(file, 'utf8');
    let out = text;
    for (const p of SANDBOX_PATHS) out = out.replaceAll(`"${p}`, `"${root}${p}`);
    if (out !== text) await writeFile(file, out);
  }
}
