// `cordon isolate AGENT …`, `cordon release AGENT`, `cordon isolation list`: a client of a running
// PDP's isolation API (the PDP holds the isolation state and the audit log, so every change goes
// through it, is decided by Cedar and recorded, and every node applies it within a second).

import type { Command } from 'commander';
import type { IsolationMeasures, IsolationState } from '../store/ports.js';
import { ApiCliError, apiOptions, callApi, type ApiTarget } from './api-client.js';

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const collect = (v: string, prev: string[]) => [...prev, v];

interface CommonOptions {
  url: string;
  data: string;
  token?: string;
  json?: boolean;
}

interface IsolateOptions extends CommonOptions {
  user?: string;
  session?: string;
  revokeTool: string[];
  /** Commander's negation: false when --no-egress is given. */
  egress: boolean;
  egressBaseline?: boolean;
  readOnly?: boolean;
  /** false when --no-delegation is given. */
  delegation: boolean;
  full?: boolean;
  until?: string;
  reason: string;
}

/** The measures an `isolate` command line asks for. */
export function measuresOf(o: IsolateOptions): IsolationMeasures {
  const m: IsolationMeasures = {};
  if (o.revokeTool.length > 0) m.revokedTools = o.revokeTool;
  if (!o.egress) m.egress = 'none';
  else if (o.egressBaseline) m.egress = 'baseline';
  if (o.readOnly) m.readOnly = true;
  if (!o.delegation) m.noDelegation = true;
  if (o.full) m.full = true;
  return m;
}

/** One line per state: who, what is taken away, by whom, why, until when. */
export function describeState(s: IsolationState): string {
  const who =
    s.agent + (s.user ? ` for user ${s.user}` : '') + (s.session ? ` in session ${s.session}` : '');
  const m = s.measures;
  const what = [
    m.full ? 'full' : '',
    m.readOnly ? 'read-only' : '',
    m.egress === 'none' ? 'no egress' : m.egress === 'baseline' ? 'egress: baseline only' : '',
    m.noDelegation ? 'no delegation' : '',
    m.revokedTools?.length ? `revoked: ${m.revokedTools.join(', ')}` : '',
  ].filter(Boolean);
  return `${who}: ${what.join('; ')} (by ${s.by} at ${s.at}${s.until ? `, until ${s.until}` : ''}): ${s.reason}`;
}

const scopeOf = (agent: string, o: { user?: string; session?: string }) => ({
  agent,
  ...(o.user ? { user: o.user } : {}),
  ...(o.session ? { session: o.session } : {}),
});

const post = (t: ApiTarget, path: string, body: unknown) =>
  callApi(t, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

export function registerIsolationCommands(program: Command, exit: Exit): void {
  const common = (c: Command) => apiOptions(c, 'CORDON_CREDENTIAL');
  const target = (o: CommonOptions): ApiTarget => ({ url: o.url, data: o.data, token: o.token });

  common(program.command('isolate'))
    .description('isolate an agent: take tools, egress, writes or delegation away, or everything')
    .argument('<agent>')
    .option('--user <user>', 'only while it acts for this user')
    .option('--session <session>', 'only in this session')
    .option(
      '--revoke-tool <tool>',
      'hide and refuse a tool (server/tool, server/*, ToolSet::id); repeatable',
      collect,
      [],
    )
    .option('--no-egress', 'refuse every network destination')
    .option('--egress-baseline', "refuse destinations outside the agent's baseline")
    .option('--read-only', 'only tools marked read-only; no file writes, no exec')
    .option('--no-delegation', "refuse token exchange; revoke the agent's delegation tokens")
    .option('--full', "refuse everything; end the agent's sessions and sandboxed processes")
    .option('--until <duration>', 'lift it after this long (30m, 24h, 7d)')
    .requiredOption('--reason <text>', 'why (recorded, and named in every refusal it causes)')
    .action(async (agent: string, o: IsolateOptions) => {
      const measures = measuresOf(o);
      if (Object.keys(measures).length === 0)
        throw new ApiCliError(
          'say what to take away: --revoke-tool, --no-egress, --egress-baseline, --read-only, --no-delegation or --full',
        );
      if (o.user && o.session) throw new ApiCliError('give --user or --session, not both');
      const body = (await post(target(o), '/v1/isolation', {
        ...scopeOf(agent, o),
        measures,
        reason: o.reason,
        ...(o.until ? { until: o.until } : {}),
      })) as { isolation: IsolationState };
      out(o.json ? JSON.stringify(body) : `isolated ${describeState(body.isolation)}`);
      exit(0);
    });

  common(program.command('release'))
    .description("release an agent's isolation (every scope, or the one given)")
    .argument('<agent>')
    .option('--user <user>', 'only the isolation for this user')
    .option('--session <session>', 'only the isolation in this session')
    .option('--reason <text>', 'why (recorded)')
    .action(
      async (
        agent: string,
        o: CommonOptions & { user?: string; session?: string; reason?: string },
      ) => {
        const body = (await post(target(o), '/v1/isolation/release', {
          ...scopeOf(agent, o),
          ...(o.reason ? { reason: o.reason } : {}),
        })) as { released: IsolationState[] };
        if (o.json) out(JSON.stringify(body));
        else for (const s of body.released) out(`released ${describeState(s)}`);
        exit(0);
      },
    );

  const isolation = program.command('isolation').description('isolation states on a running PDP');
  common(isolation.command('list'))
    .description('the isolations in force')
    .option('--agent <agent>', 'only this agent')
    .action(async (o: CommonOptions & { agent?: string }) => {
      const q = o.agent ? `?${new URLSearchParams({ agent: o.agent })}` : '';
      const body = (await callApi(target(o), `/v1/isolation${q}`)) as {
        isolations: IsolationState[];
      };
      if (o.json) out(JSON.stringify(body));
      else if (body.isolations.length === 0) out('no isolation in force');
      else for (const s of body.isolations) out(describeState(s));
      exit(0);
    });
}
