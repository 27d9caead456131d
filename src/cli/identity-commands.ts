// `cordon token …` and `cordon topology reach`.

import type { Command } from 'commander';
import type { Engine } from '../core/engine.js';
import type { ScopeError } from '../core/token-scope.js';
import type { Revocations } from '../store/cache/revocations.js';
import type { TokenService } from '../identity/tokens.js';
import { parseDurationSeconds } from './durations.js';

/** The identity subsystem, loaded when a token or topology command runs. */
const lib = () => import('./identity-lib.js');

export class IdentityCliError extends Error {}

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const DEFAULT_DATA = './.cordon';
const collect = (v: string, prev: string[]) => [...prev, v];

async function withTokens<T>(
  data: string,
  audience: string | undefined,
  fn: (t: TokenService, r: Revocations) => Promise<T>,
): Promise<T> {
  const { loadTokenKeys, TokenService } = await lib();
  return withRevocations(data, async (revocations) =>
    fn(new TokenService(await loadTokenKeys(data), revocations, audience), revocations),
  );
}

/** The data directory's revocations, through the store port, closed when `fn` is done. */
async function withRevocations<T>(data: string, fn: (r: Revocations) => Promise<T>): Promise<T> {
  const { openStores, Revocations } = await lib();
  const stores = await openStores({ data, storage: {} });
  try {
    const revocations = await Revocations.open(stores.revocations, stores.bus);
    try {
      return await fn(revocations);
    } finally {
      revocations.close();
    }
  } finally {
    await stores.close();
  }
}

async function scopeOf(items: string[]): Promise<string | undefined> {
  if (items.length === 0) return undefined;
  const { parseScope } = await lib();
  const scope = items.join(' ');
  try {
    parseScope(scope);
  } catch (e) {
    throw new IdentityCliError(`--scope: ${(e as ScopeError).message}`);
  }
  return scope;
}

function ttlOf(ttl: string): number {
  const s = parseDurationSeconds(ttl);
  if (!s) throw new IdentityCliError(`--ttl ${ttl}: give a duration like 10m`);
  return s;
}

async function engineFor(dir: string, tokens?: TokenService): Promise<Engine> {
  const { Engine, formatLocated, loadPolicyDir } = await lib();
  const r = await loadPolicyDir(dir);
  if (!r.ok)
    throw new IdentityCliError(
      `policies in ${dir} do not compile:\n${r.errors.map(formatLocated).join('\n')}`,
    );
  return new Engine({ policies: { current: () => r.set }, ...(tokens ? { tokens } : {}) });
}

/** "Tool::\"x\"" or Tool::x → {type, id}. */
function entityArg(text: string): { type: string; id: string } {
  const m = /^([A-Za-z_][\w:]*?)::(?:"((?:[^"\\]|\\.)*)"|(.+))$/.exec(text);
  if (!m) throw new IdentityCliError(`${text}: expected Type::"id"`);
  return { type: m[1]!, id: m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]! };
}

export function registerIdentityCommands(program: Command, exit: Exit): void {
  const token = program
    .command('token')
    .description('delegation tokens: issue, verify, exchange, revoke');

  token
    .command('issue')
    .description('issue a root delegation token: a user has an agent act for them')
    .requiredOption('--user <user>')
    .requiredOption('--agent <agent>')
    .option(
      '--scope <item>',
      'scope item (repeatable), e.g. invokeTool:Tool::"erp/*"; default *',
      collect,
      [],
    )
    .option('--ttl <duration>', 'lifetime', '10m')
    .option('--audience <aud>', 'audience', 'cordon')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(
      async (o: {
        user: string;
        agent: string;
        scope: string[];
        ttl: string;
        audience: string;
        data: string;
      }) => {
        const scope = (await scopeOf(o.scope)) ?? '*';
        const issued = await withTokens(o.data, undefined, (t) =>
          t.issue({
            user: o.user,
            chain: [o.agent],
            scope,
            ttlSeconds: ttlOf(o.ttl),
            audience: o.audience,
          }),
        );
        out(issued.token);
      },
    );

  token
    .command('verify')
    .description('verify a token; prints its claims (exit 0) or why it is rejected (exit 1)')
    .argument('<token>')
    .option('--audience <aud>', 'audience', 'cordon')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (jwt: string, o: { audience: string; data: string }) => {
      const { TokenError } = await lib();
      try {
        const v = await withTokens(o.data, o.audience, (t) => t.verify(jwt));
        out(
          JSON.stringify(
            {
              user: v.user,
              agent: v.agent,
              chain: v.chain,
              depth: v.depth,
              scope: v.scopeText,
              claims: v.payload,
            },
            null,
            2,
          ),
        );
      } catch (e) {
        if (!(e instanceof TokenError)) throw e;
        out(`rejected: ${e.message}`);
        exit(1);
      }
    });

  token
    .command('exchange')
    .description(
      'the next hop: a token for another agent, decided by policy (not recorded in the audit log; use the HTTP endpoint for that)',
    )
    .requiredOption('--subject-token <token>')
    .requiredOption('--agent <agent>', 'the agent that will hold the new token')
    .requiredOption('--policies <dir>')
    .option('--scope <item>', "narrower scope item (repeatable); default the parent's", collect, [])
    .option('--ttl <duration>', "lifetime (never past the parent's)", '10m')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(
      async (o: {
        subjectToken: string;
        agent: string;
        policies: string;
        scope: string[];
        ttl: string;
        data: string;
      }) => {
        const { ExchangeError, exchangeToken } = await lib();
        await withTokens(o.data, undefined, async (t) => {
          const engine = await engineFor(o.policies, t);
          const scope = await scopeOf(o.scope);
          try {
            const r = await exchangeToken(t, (req) => engine.decide(req), {
              subjectToken: o.subjectToken,
              agent: o.agent,
              ttlSeconds: ttlOf(o.ttl),
              ...(scope ? { scope } : {}),
            });
            out(r.token);
          } catch (e) {
            if (!(e instanceof ExchangeError)) throw e;
            out(`refused (${e.code}): ${e.message}`);
            exit(1);
          }
        });
      },
    );

  token
    .command('revoke')
    .description(
      'revoke one token and every token minted from it (--jti), or an agent until reinstated (--agent)',
    )
    .option('--jti <jti>')
    .option('--agent <agent>')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (o: { jti?: string; agent?: string; data: string }) => {
      if (!o.jti === !o.agent) throw new IdentityCliError('give exactly one of --jti or --agent');
      await withRevocations(o.data, async (r) => {
        if (o.jti) await r.revokeToken(o.jti);
        else await r.revokeAgent(o.agent!);
      });
      out(
        o.jti
          ? `revoked token ${o.jti}`
          : `revoked agent ${o.agent}: no token naming it verifies or is minted until it is reinstated`,
      );
    });

  token
    .command('reinstate')
    .description(
      "lift an agent's revocation: it may be delegated to again (tokens issued before the revocation stay revoked)",
    )
    .requiredOption('--agent <agent>')
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (o: { agent: string; data: string }) => {
      const lifted = await withRevocations(o.data, (r) => r.reinstateAgent(o.agent));
      if (!lifted) throw new IdentityCliError(`agent ${o.agent} is not revoked`);
      out(`reinstated agent ${o.agent}: it may be delegated to again`);
    });

  token
    .command('rotate-key')
    .description(
      'create a new signing key; older keys keep verifying until removed (servers load keys at start)',
    )
    .option('--data <dir>', 'data directory', DEFAULT_DATA)
    .action(async (o: { data: string }) => {
      const { createTokenKey } = await lib();
      const k = await createTokenKey(o.data);
      out(`new signing key ${k.kid}`);
    });

  program
    .command('topology')
    .description('the agent graph the policies allow')
    .command('reach')
    .description(
      'which agents can reach which agents, tools and data, through any chain of permitted delegations',
    )
    .requiredOption('--policies <dir>')
    .option('--from <entity>', 'start agent, e.g. Agent::"public-chatbot" (default: every agent)')
    .option('--to <entity>', 'target, e.g. Tool::"hr-db/read_salaries"')
    .option('--user <user>', 'evaluate on behalf of this user too')
    .option('--max-depth <n>', 'most agents in a chain', (v) => Number(v), 4)
    .option('--json', 'print JSON')
    .action(
      async (o: {
        policies: string;
        from?: string;
        to?: string;
        user?: string;
        maxDepth: number;
        json?: boolean;
      }) => {
        const { formatEntity, reach } = await lib();
        const engine = await engineFor(o.policies);
        const from = o.from ? entityArg(o.from) : undefined;
        if (from && from.type !== 'Agent') throw new IdentityCliError('--from must be an Agent');
        const to = o.to ? entityArg(o.to) : undefined;
        const r = await reach(engine, {
          ...(from ? { from: [from.id] } : {}),
          ...(to ? { to } : {}),
          ...(o.user ? { user: o.user } : {}),
          maxDepth: o.maxDepth,
          maxDecisions: 200_000,
        });
        if (o.json) {
          out(JSON.stringify({ reachable: r.paths.length > 0, ...r }, null, 2));
          return;
        }
        const note = `(${r.decisions} decisions, chains of up to ${o.maxDepth} agents${r.truncated ? ', search cut short' : ''}; assumes no content findings, risk 0, no approvals)`;
        if (r.paths.length === 0) {
          out(
            `unreachable${to ? `: ${formatEntity(to)}` : ''}${from ? ` from ${formatEntity(from)}` : ''} ${note}`,
          );
          return;
        }
        for (const p of r.paths) {
          const hops = p.steps
            .map(
              (s) =>
                ` ─${s.action}${s.outcome === 'require_approval' ? ' (approval)' : ''}→ ${formatEntity(s.to)}`,
            )
            .join('');
          out(`${formatEntity({ type: 'Agent', id: p.from })}${hops}`);
        }
        out(note);
      },
    );
}
