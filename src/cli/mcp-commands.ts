// `cordon mcp serve` and `cordon mcp wrap`.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { UpstreamSpec } from '../pep/mcp/upstream.js';
import type { RunningApi } from '../runtime/start.js';
import { parseDurationSeconds } from './durations.js';
import { engineOption } from './engine-option.js';
import { registerMcpPinCommand } from './mcp-pin-command.js';
import type { EngineKind } from '../core/compiled/index.js';

/** The MCP gateway and the PDP, loaded when an mcp command runs. */
const lib = () => import('./mcp-lib.js');

export class McpCliError extends Error {}

type Exit = (code: number) => void;

interface ServeOptions {
  policies: string;
  engine: EngineKind;
  data: string;
  agent?: string;
  user?: string;
  token?: string;
  name?: string;
  config?: string;
  url?: string;
  listen: string;
  logLevel: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  jwtJwks?: string;
  jwtKey?: string;
  jwtAgentClaim: string;
  jwtUserClaim: string;
  sessionIdle: string;
  auditSync: string;
  api?: string;
  approvalWait: string;
  allowedHost: string[];
  maxSessions: string;
  pins?: string;
  cordonConfig?: string;
}

function durationMs(text: string, flag: string): number {
  if (/^0+[smhd]?$/.test(text)) return 0;
  const seconds = parseDurationSeconds(text);
  if (!seconds) throw new McpCliError(`${flag} ${text}: give a duration like 30s`);
  return seconds * 1000;
}

function listenAddress(text: string, flag: string): { host: string; port: number } {
  const m = /^http:\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(text);
  if (!m) throw new McpCliError(`${flag} ${text}: give http://HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function stringEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

async function upstreamsOf(
  o: Pick<ServeOptions, 'config' | 'url' | 'name'>,
  command: string[],
): Promise<UpstreamSpec[]> {
  const sources = [o.config !== undefined, o.url !== undefined, command.length > 0].filter(
    Boolean,
  ).length;
  if (sources !== 1)
    throw new McpCliError(
      'give exactly one upstream: --config FILE, --url URL, or -- COMMAND [ARGS…]',
    );
  const { parseMcpServers } = await lib();
  if (o.config) return parseMcpServers(await readFile(o.config, 'utf8'), o.config).specs;
  if (o.url) return [{ name: o.name ?? new URL(o.url).hostname, url: o.url }];
  return [
    {
      name: o.name ?? basename(command[0]!).replace(/\.[cm]?js$/, ''),
      command: command[0]!,
      args: command.slice(1),
      env: stringEnv(),
    },
  ];
}

export function registerMcpCommands(program: Command, exit: Exit): void {
  const mcp = program
    .command('mcp')
    .description('the MCP gateway: Cedar on every tool an agent lists and calls');

  mcp
    .command('serve')
    .description(
      'run MCP servers behind Cordon (stdio: the client spawns this; http: clients connect with a bearer token)',
    )
    .requiredOption('--policies <dir>', 'policy directory')
    .option('--data <dir>', 'data directory (audit log, keys)', './.cordon')
    .option('--agent <id>', 'the agent this gateway acts for (stdio)')
    .option('--user <id>', 'the user behind the agent (stdio)')
    .option(
      '--token <jwt>',
      'a delegation token instead of --agent/--user (stdio; or CORDON_TOKEN)',
    )
    .option('--name <name>', 'server name for a single upstream (Tool::"<name>/<tool>")')
    .option('--config <file>', 'an mcpServers file: every server behind the gateway')
    .option('--url <url>', 'one Streamable HTTP upstream')
    .option('--pins <file>', 'the tool pin file (default: POLICIES/mcp-pins.json, if present)')
    .option(
      '--cordon-config <file>',
      'a cordon.yaml for risk, baselines, isolation… (the flags given here win over it)',
    )
    .option('--listen <where>', 'stdio, or http://HOST:PORT', 'stdio')
    .option('--log-level <level>', 'log level (logs go to stderr)', 'info')
    .addOption(engineOption())
    .option('--jwt-issuer <iss>', 'http: also accept JWTs from this issuer')
    .option('--jwt-audience <aud>', 'http: the audience those JWTs must carry')
    .option('--jwt-jwks <url>', "http: the issuer's JWKS URL")
    .option('--jwt-key <file>', "http: or the issuer's public key (PEM)")
    .option('--jwt-agent-claim <claim>', 'claim naming the agent', 'azp')
    .option('--jwt-user-claim <claim>', 'claim naming the user', 'sub')
    .option('--session-idle <duration>', 'http: close sessions unused this long', '30m')
    .option(
      '--allowed-host <name>',
      'http: a hostname clients use in Host/Origin besides loopback and the bound host (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--max-sessions <n>',
      'http: sessions one user/agent may hold at once (each runs its own upstreams)',
      '8',
    )
    .option('--api <url>', 'also serve the PDP HTTP API (approvals, audit) at http://HOST:PORT')
    .option(
      '--approval-wait <duration>',
      "how long a call that needs approval waits for a human's answer",
      '0s',
    )
    .option(
      '--audit-sync <mode>',
      // A gateway sits in every tool call: it waits for the OS, not the disk, by default.
      'normal (records survive a crash of the gateway, not power loss; the default) or full',
      'normal',
    )
    .argument('[command...]', 'a stdio upstream after --')
    .action(async (command: string[], o: ServeOptions) => {
      const {
        answerMalformedMessages,
        bearerAuthenticator,
        parseConfig,
        parseYaml,
        createMcpHttpServer,
        limitsFromConfig,
        GatewaySession,
        openPdp,
        pino,
        RequestIds,
        serveApi,
        StdioServerTransport,
        ToolPins,
      } = await lib();
      const upstreams = await upstreamsOf(o, command);
      const pins = await ToolPins.load(ToolPins.pathFor(o.policies, o.pins));
      // stdout carries MCP in stdio mode: logs go to stderr, always.
      const log = pino({ level: o.logLevel, base: { svc: 'cordon-mcp' } }, pino.destination(2));
      if (o.auditSync !== 'full' && o.auditSync !== 'normal') {
        throw new McpCliError('--audit-sync is full or normal');
      }
      // The gateway's own PDP takes cordon.yaml's risk, baselines and isolation settings too.
      let file: Record<string, unknown> = {};
      if (o.cordonConfig) {
        let parsed: unknown;
        try {
          parsed = parseYaml(await readFile(o.cordonConfig, 'utf8')) ?? {};
        } catch (e) {
          throw new McpCliError(`${o.cordonConfig}: ${(e as Error).message.split('\n')[0]}`);
        }
        if (typeof parsed !== 'object' || Array.isArray(parsed))
          throw new McpCliError(`${o.cordonConfig}: not a mapping`);
        file = parsed as Record<string, unknown>;
      }
      const section = (k: string) =>
        typeof file[k] === 'object' && file[k] !== null ? (file[k] as object) : {};
      const config = parseConfig(
        {
          ...file,
          policies: o.policies,
          data: o.data,
          engine: o.engine,
          log: { ...section('log'), level: o.logLevel },
          audit: { ...section('audit'), sync: o.auditSync },
        },
        o.cordonConfig ?? 'config',
      );
      const approvalWaitMs = durationMs(o.approvalWait, '--approval-wait');
      if (o.listen !== 'stdio') listenAddress(o.listen, '--listen'); // refuse before starting
      const pdp = await openPdp(config, log);
      let api: RunningApi | undefined;
      if (o.api) {
        try {
          api = await serveApi(pdp, config, log, listenAddress(o.api, '--api'));
        } catch (e) {
          await pdp.close();
          throw e;
        }
        log.info({ url: api.url }, 'cordon API');
      }
      const stop = async (code: number) => {
        await api?.close();
        await pdp.close();
        exit(code);
        process.exit(code);
      };
      if (o.listen === 'stdio') {
        const token = o.token ?? process.env.CORDON_TOKEN;
        if (!token && !o.agent) {
          await api?.close();
          await pdp.close();
          throw new McpCliError('stdio needs an identity: --agent (and --user), or --token');
        }
        const identity = token
          ? { token }
          : { agent: o.agent!, ...(o.user ? { user: o.user } : {}) };
        const gateway = await GatewaySession.open({
          upstreams,
          decisions: pdp.decisions,
          identity,
          approvalWaitMs,
          pins,
          isolation: pdp.isolation,
        });
        const transport = new StdioServerTransport();
        transport.onclose = () => void gateway.close().then(() => stop(0));
        await gateway.server.connect(transport);
        new RequestIds().watch(transport, true);
        answerMalformedMessages(gateway.server, transport, (err) =>
          log.warn({ err }, 'mcp protocol error'),
        );
        log.info(
          { upstreams: upstreams.map((u) => u.name), identity: token ? 'token' : identity },
          'mcp gateway on stdio',
        );
        process.stdin.once('end', () => void gateway.close().then(() => stop(0)));
        return;
      }
      const where = listenAddress(o.listen, '--listen');
      if (!!o.jwtIssuer !== !!o.jwtAudience) {
        await api?.close();
        await pdp.close();
        throw new McpCliError('--jwt-issuer and --jwt-audience go together');
      }
      const authenticate = await bearerAuthenticator(
        pdp.tokens,
        o.jwtIssuer
          ? {
              issuer: o.jwtIssuer,
              audience: o.jwtAudience!,
              ...(o.jwtJwks ? { jwks: o.jwtJwks } : {}),
              ...(o.jwtKey ? { keyFile: o.jwtKey } : {}),
              agentClaim: o.jwtAgentClaim,
              userClaim: o.jwtUserClaim,
            }
          : undefined,
      );
      const idleSeconds = parseDurationSeconds(o.sessionIdle);
      if (!idleSeconds) {
        await api?.close();
        await pdp.close();
        throw new McpCliError(`--session-idle ${o.sessionIdle}: give a duration like 30m`);
      }
      const maxSessions = Number(o.maxSessions);
      if (!Number.isSafeInteger(maxSessions) || maxSessions < 1) {
        await api?.close();
        await pdp.close();
        throw new McpCliError(`--max-sessions ${o.maxSessions}: give a whole number of at least 1`);
      }
      const http = createMcpHttpServer({
        upstreams,
        decisions: pdp.decisions,
        authenticate,
        log,
        idleTimeoutMs: idleSeconds * 1000,
        approvalWaitMs,
        limits: limitsFromConfig(config.limits),
        listenHost: where.host,
        allowedHosts: o.allowedHost,
        maxSessionsPerPrincipal: maxSessions,
        pins,
        isolation: pdp.isolation,
      });
      try {
        // A port in use is an 'error' event, not a thrown error: without a listener it would
        // end the process with a stack trace instead of the one-line message.
        await new Promise<void>((resolve, reject) => {
          http.server.once('error', reject);
          http.server.listen(where.port, where.host, () => {
            http.server.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        await http.close().catch(() => undefined);
        await api?.close();
        await pdp.close();
        throw e;
      }
      const addr = http.server.address();
      log.info(
        {
          url: `http://${where.host}:${typeof addr === 'object' && addr ? addr.port : where.port}/mcp`,
          upstreams: upstreams.map((u) => u.name),
        },
        'mcp gateway on http',
      );
      const shutdown = () => void http.close().then(() => stop(0));
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });

  registerMcpPinCommand(mcp, upstreamsOf, (m) => new McpCliError(m));

  mcp
    .command('wrap')
    .description(
      'print an mcpServers file in which every server runs behind Cordon (reads FILE or stdin)',
    )
    .requiredOption('--policies <dir>', 'policy directory')
    .requiredOption('--agent <id>', 'the agent the client is')
    .option('--user <id>', 'the user behind it')
    .option('--data <dir>', 'data directory; each server logs to DIR/mcp-<name>', './.cordon')
    .addOption(engineOption())
    .argument('[file]')
    .action(
      async (
        file: string | undefined,
        o: { policies: string; agent: string; user?: string; data: string; engine: string },
      ) => {
        const text = file ? await readFile(file, 'utf8') : await readStdin();
        const { wrapMcpServers } = await lib();
        const wrapped = wrapMcpServers(text, file ?? 'stdin', o);
        for (const w of wrapped.warnings) process.stderr.write(`cordon: warning: ${w}\n`);
        process.stdout.write(wrapped.text);
      },
    );
}
