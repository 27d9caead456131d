// `cordon baseline show|mode|reset|suggest AGENT`: a client of a running PDP's baseline API
// (the PDP holds the baselines, the policies and the audit log; every change is a recorded,
// policy-checked control decision). `suggest` prints policies for a person to review: nothing
// is applied.

import type { Command } from 'commander';
import { apiOptions, callApi, type ApiTarget } from './api-client.js';
import { parseSince } from './audit-commands.js';

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);

interface CommonOptions {
  url: string;
  data: string;
  token?: string;
  json?: boolean;
}

interface Summary {
  agent: string;
  classes: string[];
  mode: { mode: string; by: string; at: string };
  observations: number;
  since?: string;
  halfLifeSeconds: number;
  rateRatio: number;
  dimensions: Record<string, { item: string; count: number }[]>;
}

interface SuggestAnswer {
  agent: string;
  policyVersion: string;
  policies: string;
  count: number;
  validation: { valid: boolean; errors: string[] };
  whatif:
    | { skipped: string }
    | {
        total: number;
        flipped: number;
        transitions: Record<string, { count: number; examples: string[] }>;
      };
}

const MODES = ['learn', 'monitor', 'enforce'];

function printSummary(s: Summary): void {
  const set = s.mode.by === 'default' ? 'default' : `set by ${s.mode.by} at ${s.mode.at}`;
  out(`agent ${s.agent}${s.classes.length ? ` (class ${s.classes.join(', ')})` : ''}`);
  out(`mode: ${s.mode.mode} (${set})`);
  out(
    `observations: ${s.observations} (decayed, half-life ${s.halfLifeSeconds}s)${s.since ? ` since ${s.since}` : ''}`,
  );
  if (s.rateRatio > 0) out(`current rate: ${s.rateRatio}% of usual`);
  for (const [dim, items] of Object.entries(s.dimensions)) {
    out(`${dim}:`);
    for (const i of items.slice(0, 50)) out(`  ${String(i.count).padStart(10)}  ${i.item}`);
    if (items.length > 50) out(`  … and ${items.length - 50} more (--json lists all)`);
  }
}

export function registerBaselineCommands(program: Command, exit: Exit): void {
  const baseline = program
    .command('baseline')
    .description("agents' behavioral baselines on a running PDP: show, mode, reset, suggest");
  const common = (c: Command) => apiOptions(c, 'CORDON_CREDENTIAL');
  const target = (o: CommonOptions): ApiTarget => ({ url: o.url, data: o.data, token: o.token });
  const path = (agent: string, rest = '') => `/v1/baselines/${encodeURIComponent(agent)}${rest}`;
  const post = (o: CommonOptions, p: string, body: unknown) =>
    callApi(target(o), p, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  common(baseline.command('show <agent>'))
    .description("the agent's mode and what it usually does, most frequent first")
    .action(async (agent: string, o: CommonOptions) => {
      const s = (await callApi(target(o), path(agent))) as Summary;
      if (o.json) out(JSON.stringify(s));
      else printSummary(s);
      exit(0);
    });

  common(baseline.command('mode <agent> <mode>'))
    .description(
      'learn (observe only), monitor (deviations are facts) or enforce (policies act on them)',
    )
    .action(async (agent: string, mode: string, o: CommonOptions) => {
      if (!MODES.includes(mode)) {
        process.stderr.write(`mode must be one of ${MODES.join(', ')}, not "${mode}"\n`);
        return exit(1);
      }
      const r = (await post(o, path(agent, '/mode'), { mode })) as {
        previous: string;
        mode: string;
        by: string;
      };
      out(o.json ? JSON.stringify(r) : `${agent}: ${r.previous} → ${r.mode} (by ${r.by})`);
      exit(0);
    });

  common(baseline.command('reset <agent>'))
    .description('forget what was learned about the agent (its mode stays)')
    .action(async (agent: string, o: CommonOptions) => {
      const r = (await post(o, path(agent, '/reset'), {})) as { reset: boolean };
      out(
        o.json
          ? JSON.stringify(r)
          : r.reset
            ? `${agent}: baseline forgotten`
            : `${agent}: nothing was learned`,
      );
      exit(0);
    });

  common(baseline.command('suggest <agent>'))
    .description(
      'least-privilege policies from what the agent did, validated, with a what-if over its recorded decisions (printed, never applied)',
    )
    .option('--since <time>', 'replay decisions since: ISO time or duration (24h, 7d)')
    .action(async (agent: string, o: CommonOptions & { since?: string }) => {
      const since = parseSince(o.since);
      const q = since ? `?${new URLSearchParams({ since })}` : '';
      const r = (await callApi(target(o), path(agent, `/suggest${q}`))) as SuggestAnswer;
      if (o.json) {
        out(JSON.stringify(r));
        return exit(r.validation.valid ? 0 : 1);
      }
      out(r.policies);
      const note = (s: string) => out(`// ${s}`);
      if (r.validation.valid)
        note(`${r.count} policies; valid against the serving schema (${r.policyVersion})`);
      else {
        note('THE SUGGESTED POLICIES DO NOT VALIDATE:');
        for (const e of r.validation.errors) note(`  ${e}`);
      }
      if ('skipped' in r.whatif) note(`what-if: skipped (${r.whatif.skipped})`);
      else {
        note(
          `what-if: of ${r.whatif.total} recorded decisions of ${agent}${since ? ` since ${since}` : ''}, ${r.whatif.flipped} would flip with these policies in place of the permits that apply to it now`,
        );
        for (const [t, v] of Object.entries(r.whatif.transitions)) {
          note(`  ${t}: ${v.count}`);
          for (const e of v.examples) note(`    ${e}`);
        }
      }
      exit(r.validation.valid ? 0 : 1);
    });
}
