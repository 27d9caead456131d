// `cordon approvals list|show|approve|deny`: a client of a running PDP's approval API (the
// PDP holds the approval store and the audit log, so answers go through it and are recorded).

import type { Command } from 'commander';
import { apiOptions, callApi, type ApiTarget } from './api-client.js';

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);

interface ApprovalView {
  id: string;
  status: string;
  agent: string;
  user?: string;
  request: { action: string; resource: { type: string; id: string }; input?: unknown };
  reasons: { policy: string }[];
  expiresAt: string;
  approver?: string;
  note?: string;
}

interface CommonOptions {
  url: string;
  data: string;
  token?: string;
  json?: boolean;
}
type ListOptions = CommonOptions & { status?: string; limit: string };

function line(a: ApprovalView): string {
  const who = a.user ? `${a.agent} for ${a.user}` : a.agent;
  const what = `${a.request.action} ${a.request.resource.type}::"${a.request.resource.id}"`;
  // The agent and the user it acts for can hit the same gate: name it once.
  const gate = [...new Set(a.reasons.map((r) => r.policy))].join(',');
  const answered = a.approver ? ` by ${a.approver}` : ` until ${a.expiresAt}`;
  return `${a.id}  ${a.status.padEnd(8)} ${who}: ${what} [${gate}]${answered}`;
}

export function registerApprovalCommands(program: Command, exit: Exit): void {
  const approvals = program
    .command('approvals')
    .description('list and answer approval requests on a running PDP');
  const common = (c: Command) => apiOptions(c, 'CORDON_APPROVER_TOKEN');
  const target = (o: { url: string; data: string; token?: string }): ApiTarget => ({
    url: o.url,
    data: o.data,
    token: o.token ?? process.env.CORDON_APPROVER_TOKEN,
  });

  common(approvals.command('list'))
    .description('approval requests, newest first')
    .option('--status <status>', 'pending, approved, denied, expired or used')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: ListOptions) => {
      const q = new URLSearchParams({ limit: o.limit });
      if (o.status) q.set('status', o.status);
      const body = (await callApi(target(o), `/v1/approvals?${q}`)) as {
        approvals: ApprovalView[];
      };
      if (o.json) out(JSON.stringify(body));
      else if (body.approvals.length === 0) out('no approval requests');
      else for (const a of body.approvals) out(line(a));
      exit(0);
    });

  common(approvals.command('show <id>'))
    .description('one approval request, with the input the agent wants to use')
    .option('--wait <seconds>', 'wait this long for an answer', '0')
    .action(async (id: string, o: CommonOptions & { wait: string }) => {
      const path = `/v1/approvals/${encodeURIComponent(id)}?wait=${encodeURIComponent(o.wait)}`;
      const a = (await callApi(target(o), path)) as ApprovalView;
      out(o.json ? JSON.stringify(a) : `${line(a)}\ninput: ${JSON.stringify(a.request.input)}`);
      exit(0);
    });

  for (const verb of ['approve', 'deny'] as const) {
    common(approvals.command(`${verb} <id>`))
      .description(`${verb} a pending request (the approver must be permitted by policy)`)
      .option('--approver <user>', 'answer as this user (only with approvals.approvers: trusted)')
      .option('--note <text>', 'why, for the record')
      .option('--uses <n>', 'how many retries the approval covers (approve only)')
      .action(
        async (
          id: string,
          o: CommonOptions & { approver?: string; note?: string; uses?: string },
        ) => {
          const body: Record<string, unknown> = {};
          if (o.approver) body.approver = o.approver;
          if (o.note) body.note = o.note;
          if (o.uses) body.uses = Number(o.uses);
          const path = `/v1/approvals/${encodeURIComponent(id)}/${verb}`;
          const a = (await callApi(target(o), path, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })) as ApprovalView;
          out(o.json ? JSON.stringify(a) : line(a));
          exit(0);
        },
      );
  }
}
