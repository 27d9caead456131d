// The approvals, agents and audit pages' routes on a whole `cordon serve` (approvals, isolation,
// baselines and the audit log as the runtime composes them), driven as the browser drives them.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../../../config/config.js';
import { startServer, type RunningServer } from '../../../runtime/start.js';
import { adminHeader } from '../../../testing/auth.js';
import { ConsoleBrowser } from '../../../testing/console.js';
import { EXAMPLE_POLICIES, tempDir } from '../../../testing/fixtures.js';
import { SseReader } from '../../../testing/sse.js';

let server: RunningServer;
let base: string;
let admin: ConsoleBrowser;
let adminBearer: { authorization: string };
const streams: AbortController[] = [];

before(async () => {
  const data = await tempDir('cordon-console-pages-');
  server = await startServer(
    configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      host: '127.0.0.1',
      watch: false,
      log: { level: 'silent' },
    }),
    pino({ level: 'silent' }),
  );
  base = server.url;
  adminBearer = await adminHeader(data);
  const res = await fetch(`${base}/v1/console/sign-in-tokens`, {
    method: 'POST',
    headers: adminBearer,
  });
  const { signInToken } = (await res.json()) as { signInToken: string };
  admin = new ConsoleBrowser(base);
  assert.equal((await admin.signIn({ signInToken })).status, 201);
});
after(async () => {
  for (const s of streams) s.abort();
  await server.close();
});

const decide = async (body: unknown) =>
  (await (
    await fetch(`${base}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json()) as { decision: string; decisionId: string; approval?: { id: string } };

const wire = (amount: number) =>
  decide({
    agent: 'ledger-bot',
    user: 'alice',
    action: 'invokeTool',
    resource: { type: 'Tool', id: 'erp/wire_transfer' },
    input: { amount, to: 'ACME' },
  });

async function open(path: string): Promise<SseReader> {
  const abort = new AbortController();
  streams.push(abort);
  const res = await fetch(`${base}${path}`, {
    headers: { cookie: admin.cookie },
    signal: abort.signal,
  });
  if (res.status !== 200) assert.fail(`${res.status} ${await res.text()}`);
  return new SseReader(res);
}

interface ApprovalsEvent {
  pending: { id: string; request: { input: unknown }; expiresAt: string }[];
  recent: { id: string; status: string; note?: string }[];
}

describe('the approvals inbox', () => {
  it('streams pending requests with their bound arguments, and the answer when it comes', async () => {
    const s = await open('/v1/console/approvals/stream');
    await s.until((r) => r.json('approvals').length >= 1, 'the first state');
    const asked = await wire(250);
    assert.equal(asked.decision, 'require_approval');
    const id = asked.approval!.id;
    await s.until((r) =>
      r.json<ApprovalsEvent>('approvals').some((e) => e.pending.some((p) => p.id === id)),
    );
    const pending = s
      .json<ApprovalsEvent>('approvals')
      .at(-1)!
      .pending.find((p) => p.id === id)!;
    assert.deepEqual(pending.request.input, { amount: 250, to: 'ACME' });
    assert.ok(Date.parse(pending.expiresAt) > Date.now());
    // Answered from the browser: the cookie, the CSRF token and a note.
    const approved = await admin.call('POST', `/v1/approvals/${id}/approve`, {
      body: { note: 'checked with finance' },
    });
    assert.equal(approved.status, 200, await approved.clone().text());
    await s.until((r) =>
      r
        .json<ApprovalsEvent>('approvals')
        .some((e) => e.recent.some((a) => a.id === id && a.status === 'approved')),
    );
    const last = s.json<ApprovalsEvent>('approvals').at(-1)!;
    assert.ok(!last.pending.some((p) => p.id === id));
    assert.equal(last.recent.find((a) => a.id === id)!.note, 'checked with finance');
    // The agent's identical retry is allowed now.
    assert.equal((await wire(250)).decision, 'allow');
  });

  it('an answer without the CSRF token is refused and changes nothing', async () => {
    const asked = await wire(999);
    const res = await admin.call('POST', `/v1/approvals/${asked.approval!.id}/deny`, {
      body: {},
      noCsrf: true,
    });
    assert.equal(res.status, 403);
    const list = (await (await admin.call('GET', '/v1/approvals?status=pending')).json()) as {
      approvals: { id: string }[];
    };
    assert.ok(
      list.approvals.some((a) => a.id === asked.approval!.id),
      'still pending',
    );
  });
});

describe('the agents page', () => {
  it('lists agents with counts and isolation, and one agent with risk over time', async () => {
    await decide({
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/read_ledger' },
    });
    const list = (await (await admin.call('GET', '/v1/console/agents?window=1h')).json()) as {
      agents: {
        id: string;
        listed: boolean;
        counts: Record<string, number>;
        isolation: unknown[];
      }[];
    };
    const ledger = list.agents.find((a) => a.id === 'ledger-bot')!;
    assert.equal(ledger.listed, true);
    assert.ok(ledger.counts.allow! >= 1);
    assert.ok(ledger.counts.require_approval! >= 1);
    const iso = await admin.call('POST', '/v1/isolation', {
      body: { agent: 'ledger-bot', measures: { readOnly: true }, reason: 'console test' },
    });
    assert.equal(iso.status, 201, await iso.clone().text());
    const res = await admin.call('GET', '/v1/console/agents/ledger-bot?window=1h&buckets=6');
    assert.equal(res.status, 200);
    const a = (await res.json()) as {
      recent: { agent: string }[];
      risk: { start: string; count: number }[];
      baseline: unknown;
      isolation: { reason: string }[];
    };
    assert.equal(a.risk.length, 6);
    assert.ok(a.risk.reduce((n, b) => n + b.count, 0) >= 3);
    assert.ok(a.recent.length >= 3 && a.recent.every((d) => d.agent === 'ledger-bot'));
    assert.equal(a.isolation[0]!.reason, 'console test');
    assert.equal(
      (await admin.call('POST', '/v1/isolation/release', { body: { agent: 'ledger-bot' } })).status,
      200,
    );
    assert.equal((await admin.call('GET', '/v1/console/agents/no-such-bot')).status, 404);
    for (const q of ['window=forever', 'window=90d', 'buckets=0', 'x=1'])
      assert.equal((await admin.call('GET', `/v1/console/agents/ledger-bot?${q}`)).status, 400, q);
  });
});

describe('the audit page', () => {
  it('lists checkpoints, verifies the log with progress, exports it', async () => {
    const cps = (await (
      await admin.call('GET', '/v1/console/audit/checkpoints?limit=5')
    ).json()) as {
      verifierKey: string;
      checkpoints: { size: number; note: string }[];
    };
    assert.ok(cps.checkpoints.length >= 1);
    assert.ok(cps.checkpoints.length <= 5);
    const s = await open('/v1/console/audit/verify');
    await s.until((r) => r.ended, 'the end of the verification');
    const done = s.json<{ ok: boolean; records: number }>('done');
    assert.equal(done.length, 1);
    assert.equal(done[0]!.ok, true, JSON.stringify(done[0]));
    assert.ok(s.json<{ records: number; total: number }>('progress').length >= 2);
    const jsonl = await admin.call('GET', '/v1/console/audit/export?format=jsonl');
    assert.match(jsonl.headers.get('content-disposition')!, /^attachment; filename="cordon-audit-/);
    const lines = (await jsonl.text()).trim().split('\n');
    assert.ok(lines.length >= done[0]!.records);
    assert.equal(JSON.parse(lines[0]!).seq, 0);
    const ocsf = await admin.call('GET', '/v1/console/audit/export?format=ocsf&since=1h');
    assert.equal(JSON.parse((await ocsf.text()).split('\n')[0]!).class_uid, 6003);
    assert.equal((await admin.call('GET', '/v1/console/audit/export?format=csv')).status, 400);
    assert.equal((await admin.call('GET', '/v1/console/audit/export?since=soon')).status, 400);
  });

  it('a person without the permission is refused by the server', async () => {
    const data = await fetch(`${base}/v1/console/audit/checkpoints`);
    assert.equal(data.status, 401);
  });
});
