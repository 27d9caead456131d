import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SignJWT, importPKCS8 } from 'jose';
import { pino } from 'pino';
import { AUDIT_DB } from '../audit/log.js';
import type { AuditRecord } from '../audit/record.js';
import { SqliteAuditStore } from '../audit/sqlite-store.js';
import { whatIf } from '../audit/replay.js';
import { loadPolicyDir } from '../policy/load.js';
import { configSchema } from '../config/config.js';
import { startServer, type RunningServer } from '../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { CORDON_CLI, issueToken } from '../testing/mcp.js';
import { adminHeader } from '../testing/auth.js';
import { signatureOf } from './webhook.js';

const servers: RunningServer[] = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.close()));
});

/**
 * A server in `approvers: trusted` mode unless the test says otherwise: most tests here name the
 * approver, which only the admin credential may do, and only in that mode.
 */
async function start(data: string, approvals: Record<string, unknown> = {}) {
  const s = await startServer(
    configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      watch: false,
      log: { level: 'silent' },
      approvals: { approvers: 'trusted', ...approvals },
    }),
    pino({ level: 'silent' }),
  );
  servers.push(s);
  return Object.assign(s, { data, admin: await adminHeader(data) });
}

interface DecisionBody {
  decision: string;
  decisionId: string;
  reasons: { policy: string; message?: string }[];
  approval?: { id: string; status: string; expiresAt?: string; by?: string };
}
interface ApprovalBody {
  id: string;
  status: string;
  approver?: string;
  usesLeft?: number;
  request: { input?: unknown };
  error?: string;
}

const wire = (input: unknown = { amount: 100, to: 'acct-1' }, agent = 'ledger-bot') => ({
  agent,
  user: 'alice',
  session: 's-1',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/wire_transfer' },
  input,
});

function client({ url, admin }: { url: string; admin: Record<string, string> }) {
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ApprovalBody & DecisionBody };
  };
  return {
    decide: async (body: unknown) => (await post('/v1/decide', body)).body as DecisionBody,
    /** Answers with the admin credential unless other headers are given. */
    answer: (
      id: string,
      verb: 'approve' | 'deny',
      body: unknown,
      headers?: Record<string, string>,
    ) => post(`/v1/approvals/${id}/${verb}`, body, headers ?? admin),
    get: async (id: string, wait = 0) =>
      (await (
        await fetch(`${url}/v1/approvals/${id}?wait=${wait}`, { headers: admin })
      ).json()) as ApprovalBody,
    list: async (q = '') =>
      (await (await fetch(`${url}/v1/approvals${q}`, { headers: admin })).json()) as {
        approvals: ApprovalBody[];
      },
  };
}

describe('approvals', () => {
  it('binds a human yes to the exact request, once: the retry runs, a replay or altered arguments do not', async () => {
    const data = await tempDir('cordon-approvals-');
    const s = await start(data);
    const c = client(s);

    const first = await c.decide(wire());
    assert.equal(first.decision, 'require_approval');
    assert.equal(first.approval?.status, 'pending');
    const id = first.approval!.id;
    const again = await c.decide(wire());
    assert.equal(again.approval?.id, id, 'a retry while pending joins the same request');
    const listed = await c.list('?status=pending');
    assert.deepEqual(
      listed.approvals.map((a) => a.id),
      [id],
    );
    assert.deepEqual(listed.approvals[0]!.request.input, { amount: 100, to: 'acct-1' });

    // The enforcement point long-polls; alice, on whose behalf the agent asked, approves.
    const waiting = c.get(id, 10);
    const yes = await c.answer(id, 'approve', { approver: 'alice', note: 'invoice 42' });
    assert.equal(yes.status, 200, yes.body.error);
    assert.equal((await waiting).status, 'approved');

    const altered = await c.decide(wire({ amount: 100_000, to: 'acct-666' }));
    assert.equal(altered.decision, 'require_approval', 'different arguments need their own yes');
    assert.notEqual(altered.approval?.id, id);
    const otherPrompt = await c.decide({ ...wire(), content: 'a different prompt' });
    assert.equal(otherPrompt.decision, 'require_approval', 'different content needs its own yes');
    const otherAgent = await c.decide(wire(undefined, 'analyst-bot'));
    assert.notEqual(otherAgent.decision, 'allow', 'another agent does not inherit the approval');

    const retry = await c.decide(wire());
    assert.equal(retry.decision, 'allow');
    assert.deepEqual(retry.approval, { id, status: 'used', by: 'alice' });
    const replay = await c.decide(wire());
    assert.equal(replay.decision, 'require_approval', 'an approval is used once');
    assert.notEqual(replay.approval?.id, id);
    assert.equal((await c.get(id)).status, 'used');

    // The record of the allowed call names the approval and the approver.
    await s.close();
    const reader = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
    try {
      const records = reader.tail(100).map((r) => JSON.parse(r.record) as AuditRecord);
      const rec = records.find((r) => r.id === retry.decisionId)!;
      assert.deepEqual(
        { ...rec.approval, at: undefined },
        { id, status: 'used', by: 'alice', at: undefined },
      );
      assert.equal(rec.facts.approval.granted, true);
      const answered = records.find((r) => r.action === 'approve')!;
      assert.equal(answered.user, 'alice');
      assert.equal(answered.agent, undefined, 'the approver acted in person');
      assert.equal(answered.decision, 'allow');
      assert.equal(answered.parent, first.decisionId);
    } finally {
      reader.close();
    }
  });

  it('opens one request for concurrent retries of the same call, listed once', async () => {
    const s = await start(await tempDir('cordon-approvals-'));
    const c = client(s);
    const answers = await Promise.all(Array.from({ length: 8 }, () => c.decide(wire())));
    const ids = new Set(answers.map((a) => a.approval?.id));
    assert.equal(ids.size, 1, `one request, not ${ids.size}`);
    const listed = await c.list('?status=pending');
    assert.deepEqual(
      listed.approvals.map((a) => a.id),
      [...ids],
    );
  });

  it('binds an approval to its session: a yes given in one session is not used in another', async () => {
    const s = await start(await tempDir('cordon-approvals-'));
    const c = client(s);
    const inA = { ...wire(), session: 'session-a' };
    const inB = { ...wire(), session: 'session-b' };
    const { approval } = await c.decide(inA);
    assert.equal((await c.answer(approval!.id, 'approve', { approver: 'alice' })).status, 200);
    const elsewhere = await c.decide(inB);
    assert.equal(elsewhere.decision, 'require_approval', 'session B needs its own yes');
    assert.notEqual(elsewhere.approval?.id, approval!.id);
    const noSession = await c.decide({ ...wire(), session: undefined });
    assert.equal(noSession.decision, 'require_approval', 'nor does a request naming no session');
    const here = await c.decide(inA);
    assert.equal(here.decision, 'allow', 'the approval is usable in its own session');
    assert.equal(here.approval?.id, approval!.id);
  });

  it('by default, the approver is the authenticated caller: no credential, a named approver or an agent is refused', async () => {
    const data = await tempDir('cordon-approvals-');
    const s = await start(data, { approvers: 'authenticated' });
    const c = client(s);
    const { approval } = await c.decide(wire());
    const id = approval!.id;
    assert.equal((await c.answer(id, 'approve', {}, {})).status, 401, 'no credential');
    assert.equal((await fetch(`${s.url}/v1/approvals`)).status, 401, 'nor may it list requests');
    assert.equal((await fetch(`${s.url}/v1/approvals/${id}`)).status, 401);
    const named = await c.answer(id, 'approve', { approver: 'alice' });
    assert.equal(named.status, 400, 'a named approver is believed only in trusted mode');
    const agent = { authorization: `Bearer ${issueToken(data, 'alice', 'ledger-bot')}` };
    const self = await c.answer(id, 'approve', {}, agent);
    assert.equal(self.status, 403, 'the agent cannot approve its own request');
    const peek = await fetch(`${s.url}/v1/approvals`, { headers: agent });
    assert.equal(peek.status, 403, 'nor read the approval queue, unless a policy permits it');
    assert.ok(((await peek.json()) as { reasons: unknown[] }).reasons);
    assert.equal((await c.get(id)).status, 'pending');
    assert.notEqual((await c.decide(wire())).decision, 'allow');
    // The admin credential answers as the admin, whom the shipped policies permit.
    const yes = await c.answer(id, 'approve', {});
    assert.equal(yes.status, 200, yes.body.error);
    assert.equal(yes.body.approver, 'cordon-admin');
    assert.equal((await c.decide(wire())).decision, 'allow');
  });

  it('refuses approvers whom policy does not permit, and agents posing as approvers', async () => {
    const s = await start(await tempDir('cordon-approvals-'));
    const c = client(s);
    const { approval } = await c.decide(wire());
    for (const who of ['bob', 'dana', 'ledger-bot', 'nobody']) {
      const r = await c.answer(approval!.id, 'approve', { approver: who });
      assert.equal(r.status, 403, `${who} must not approve`);
    }
    assert.match(
      (await c.answer(approval!.id, 'approve', { approver: 'bob' })).body.error!,
      /interns-never-approve/,
    );
    assert.equal((await c.get(approval!.id)).status, 'pending');
    assert.notEqual((await c.decide(wire())).decision, 'allow');
    // carol (SRE) may answer for anyone.
    assert.equal((await c.answer(approval!.id, 'approve', { approver: 'carol' })).status, 200);
    assert.equal((await c.decide(wire())).decision, 'allow');
  });

  it('a denial sticks: the retried request is denied, naming who said no', async () => {
    const data = await tempDir('cordon-approvals-');
    const s = await start(data);
    const c = client(s);
    const { approval } = await c.decide(wire());
    const no = await c.answer(approval!.id, 'deny', { approver: 'carol', note: 'not today' });
    assert.equal(no.body.status, 'denied');
    const retry = await c.decide(wire());
    assert.equal(retry.decision, 'deny');
    assert.equal(retry.reasons[0]!.policy, 'cordon/approval-denied');
    assert.match(retry.reasons[0]!.message!, /carol denied .*not today/);
    assert.equal(
      (await c.answer(approval!.id, 'approve', { approver: 'carol' })).status,
      409,
      'an answered request cannot be answered again',
    );
    // What-if over this log with the same policies changes nothing: approvers' answers and
    // the store's own refusals re-evaluate to what was recorded.
    await s.close();
    const store = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
    try {
      const loaded = await loadPolicyDir(EXAMPLE_POLICIES);
      assert.ok(loaded.ok);
      const report = await whatIf(store, loaded.set);
      assert.equal(report.total, 3);
      assert.equal(report.changed, 0, JSON.stringify([...report.transitions.keys()]));
    } finally {
      store.close();
    }
  });

  it('refuses an expired request and an expired approval', async () => {
    const s = await start(await tempDir('cordon-approvals-'), {
      pendingSeconds: 1,
      grantSeconds: 1,
    });
    const c = client(s);
    const late = (await c.decide(wire({ n: 1 }))).approval!.id;
    const inTime = (await c.decide(wire({ n: 2 }))).approval!.id;
    assert.equal((await c.answer(inTime, 'approve', { approver: 'alice' })).status, 200);
    await new Promise((r) => setTimeout(r, 1200));
    const tooLate = await c.answer(late, 'approve', { approver: 'alice' });
    assert.equal(tooLate.status, 409);
    assert.match(tooLate.body.error!, /expired/);
    assert.equal((await c.get(inTime)).status, 'expired');
    assert.equal(
      (await c.decide(wire({ n: 2 }))).decision,
      'require_approval',
      'an approval not used in time is gone',
    );
  });

  it('lets exactly one of two concurrent retries through a one-use approval', async () => {
    const s = await start(await tempDir('cordon-approvals-'));
    const c = client(s);
    const { approval } = await c.decide(wire());
    await c.answer(approval!.id, 'approve', { approver: 'alice' });
    const results = await Promise.all(Array.from({ length: 8 }, () => c.decide(wire())));
    assert.equal(results.filter((r) => r.decision === 'allow').length, 1);
  });

  it('survives a restart: pending requests and given approvals are in the data directory', async () => {
    const data = await tempDir('cordon-approvals-');
    const before = await start(data);
    const c0 = client(before);
    const given = (await c0.decide(wire({ n: 1 }))).approval!.id;
    const pending = (await c0.decide(wire({ n: 2 }))).approval!.id;
    assert.equal((await c0.answer(given, 'approve', { approver: 'alice' })).status, 200);
    await before.close();
    const after = await start(data);
    const c = client(after);
    assert.equal((await c.decide(wire({ n: 1 }))).decision, 'allow', 'the approval given before');
    assert.equal((await c.get(pending)).status, 'pending');
    assert.equal((await c.answer(pending, 'approve', { approver: 'alice' })).status, 200);
    assert.equal((await c.decide(wire({ n: 2 }))).decision, 'allow');
  });

  it('notifies a webhook, signed, when a request opens and when it is answered', async () => {
    const got: { event: string; signature: string; body: string }[] = [];
    const hook = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({
          event: String(req.headers['x-cordon-event']),
          signature: String(req.headers['x-cordon-signature']),
          body,
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as { port: number }).port;
    const secret = 'a-webhook-secret-of-some-length';
    try {
      const s = await start(await tempDir('cordon-approvals-'), {
        webhook: { url: `http://127.0.0.1:${port}/hook`, secret },
      });
      const c = client(s);
      const { approval } = await c.decide(wire());
      await c.answer(approval!.id, 'approve', { approver: 'alice' });
      for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        got.map((g) => g.event),
        ['approval.requested', 'approval.approved'],
      );
      for (const g of got) assert.equal(g.signature, signatureOf(secret, g.body));
      const opened = JSON.parse(got[0]!.body) as { approval: ApprovalBody };
      assert.equal(opened.approval.id, approval!.id);
      assert.deepEqual(opened.approval.request.input, { amount: 100, to: 'acct-1' });
    } finally {
      hook.close();
    }
  });

  it("in token mode, only the identity provider's token names the approver", async () => {
    const dir = await tempDir('cordon-approvals-idp-');
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'idp.pem');
    await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const signer = await importPKCS8(
      privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      'EdDSA',
    );
    const idpToken = (
      sub: string,
      o: { audience?: string; issuer?: string; exp?: string | number } = {},
    ) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer(o.issuer ?? 'https://idp.example')
        .setAudience(o.audience ?? 'cordon-approvals')
        .setSubject(sub)
        .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
        .setExpirationTime(o.exp ?? '5m')
        .sign(signer);
    const data = await tempDir('cordon-approvals-');
    const s = await start(data, {
      approvers: 'token',
      issuer: { issuer: 'https://idp.example', audience: 'cordon-approvals', keyFile },
    });
    const c = client(s);
    const { approval } = await c.decide(wire());
    const id = approval!.id;
    const claimed = await c.answer(id, 'approve', { approver: 'alice' }, {});
    assert.equal(claimed.status, 401, 'a claimed name is not enough');
    const byAdmin = await c.answer(id, 'approve', {});
    assert.equal(byAdmin.status, 403, "token mode: only a person's token answers, not the admin");
    // The agent holds a Cordon delegation token for alice: it must not approve its own request.
    const agentsToken = issueToken(data, 'alice', 'ledger-bot');
    const selfApproval = await c.answer(
      id,
      'approve',
      {},
      { authorization: `Bearer ${agentsToken}` },
    );
    assert.equal(selfApproval.status, 403, 'agents never answer approvals');
    for (const bad of [
      await idpToken('carol', { audience: 'another-service' }),
      await idpToken('carol', { issuer: 'https://evil.example' }),
      await idpToken('carol', { exp: Math.floor(Date.now() / 1000) - 60 }),
    ]) {
      const r = await c.answer(id, 'approve', {}, { authorization: `Bearer ${bad}` });
      assert.equal(r.status, 401, 'wrong audience, wrong issuer or expired: refused');
    }
    const mismatch = await c.answer(
      id,
      'approve',
      { approver: 'alice' },
      { authorization: `Bearer ${await idpToken('carol')}` },
    );
    assert.equal(mismatch.status, 400);
    const ok = await c.answer(
      id,
      'approve',
      {},
      {
        authorization: `Bearer ${await idpToken('carol')}`,
      },
    );
    assert.equal(ok.status, 200, ok.body.error);
    assert.equal(ok.body.approver, 'carol');
  });

  it('cordon approvals list, approve and deny work against a running PDP', async () => {
    const s = await start(await tempDir('cordon-approvals-'));
    const c = client(s);
    const a = (await c.decide(wire({ n: 1 }))).approval!.id;
    const b = (await c.decide(wire({ n: 2 }))).approval!.id;
    const cli = (...args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, [
          CORDON_CLI,
          'approvals',
          ...args,
          '--url',
          s.url,
          '--data',
          s.data,
        ]);
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
      });
    const list = await cli('list', '--status', 'pending');
    assert.equal(list.code, 0, list.err);
    assert.match(
      list.out,
      new RegExp(`${a}\\s+pending\\s+ledger-bot for alice: invokeTool Tool::"erp/wire_transfer"`),
    );
    assert.match(list.out, new RegExp(b));
    const yes = await cli('approve', a, '--approver', 'alice', '--note', 'ok');
    assert.equal(yes.code, 0, yes.err);
    assert.match(yes.out, /approved .* by alice/);
    const refused = await cli('deny', b, '--approver', 'bob');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /bob may not answer/);
    assert.equal((await cli('deny', b, '--approver', 'carol')).code, 0);
    assert.equal((await c.decide(wire({ n: 1 }))).decision, 'allow');
    assert.equal((await c.decide(wire({ n: 2 }))).decision, 'deny');
  });
});
