import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FAILURES_PER_DECISION } from '../pep/http/failure-limit.js';
import { startServeNode, type ServeNode } from '../testing/serve-node.js';
import { sdkPolicies } from '../testing/sdk.js';
import { CordonDeniedError, guard } from './guard.js';
import { RemoteDecider } from './remote.js';

const LEDGER = { type: 'Tool', id: 'erp/read_ledger' };

/** A local HTTP server that answers with `handler`, for the failure modes of a PDP. */
async function fakePdp(handler: Parameters<typeof createServer>[1]): Promise<{
  url: string;
  server: Server;
}> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function refusal(p: Promise<unknown>): Promise<CordonDeniedError> {
  const e = await p.then(
    () => assert.fail('the call was allowed'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof CordonDeniedError, String(e));
  return e;
}

describe('guard() with a remote cordon serve', () => {
  let node: ServeNode;
  let remote: RemoteDecider;
  before(async () => {
    node = await startServeNode('sdk', {
      config: { policies: await sdkPolicies(), approvals: { approvers: 'trusted' } },
    });
    remote = new RemoteDecider({ url: node.url, timeoutMs: 10_000, approvalPollMs: 50 });
  });
  after(async () => {
    await remote?.close();
    await node?.stop();
  });

  it('runs an allowed call and never runs a denied one', async () => {
    let ran = 0;
    const read = guard(remote, (q: { account: number }) => (ran++, q.account), {
      action: 'invokeTool',
      resource: LEDGER,
      agent: 'ledger-bot',
    });
    assert.equal(await read({ account: 3 }), 3);
    const drop = guard(remote, () => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
      agent: 'ledger-bot',
    });
    const e = await refusal(drop());
    assert.equal(e.code, 'CORDON_DENIED');
    assert.ok(e.decisionId);
    assert.ok(e.reasons.length > 0);
    assert.equal(ran, 1);
  });

  it('applies the redaction obligations the remote decision carries', async () => {
    const lookup = guard(remote, () => 'mail jane.doe@example.com today', {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'crm/lookup' },
      agent: 'support-bot',
    });
    const r = await lookup();
    assert.ok(!r.includes('jane.doe@example.com'), r);
    assert.match(r, /\[REDACTED:EMAIL/);
  });

  it('refuses a malformed request as denied, with the PDP’s message', async () => {
    const f = guard(remote, () => 'ran', {
      action: 'invokeTool',
      resource: LEDGER,
      agent: 'ledger-bot',
      context: { session: 'forged' },
    });
    const e = await refusal(f());
    assert.equal(e.code, 'CORDON_DENIED');
    assert.equal(e.reasons[0]?.policy, 'cordon/bad-request');
  });

  it('waits for an approval given through the HTTP API, then runs the call (polling /v1/decide)', async () => {
    let ran = 0;
    const wire = guard(remote, (t: { amount: number }) => (ran++, `sent ${t.amount}`), {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      agent: 'ledger-bot',
      approval: { wait: true, timeoutMs: 60_000 },
    });
    const call = wire({ amount: 4242 });
    const id = await pendingFor(node, 4242);
    assert.equal(ran, 0);
    await approve(node, id);
    assert.equal(await call, 'sent 4242');
    assert.equal(ran, 1);
  });

  it('waits by long-polling the approval when its bearer may read approvals', async () => {
    const admin = new RemoteDecider({
      url: node.url,
      bearer: node.admin.authorization.replace(/^Bearer /, ''),
      timeoutMs: 10_000,
      approvalPollMs: 60_000, // would time the test out: the long poll must answer first
    });
    try {
      const wire = guard(admin, (t: { amount: number }) => `sent ${t.amount}`, {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/wire_transfer' },
        agent: 'ledger-bot',
        approval: { wait: true, timeoutMs: 30_000 },
      });
      const call = wire({ amount: 777 });
      await approve(node, await pendingFor(node, 777));
      assert.equal(await call, 'sent 777');
    } finally {
      await admin.close();
    }
  });

  it('refuses when a person denies the approval it waited for', async () => {
    let ran = 0;
    const wire = guard(remote, (_t: { amount: number }) => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      agent: 'ledger-bot',
      approval: { wait: true, timeoutMs: 60_000 },
    });
    const call = wire({ amount: 13 });
    await approve(node, await pendingFor(node, 13), 'deny');
    const e = await refusal(call);
    assert.equal(e.code, 'CORDON_DENIED');
    assert.equal(e.reasons[0]?.policy, 'cordon/approval-denied');
    assert.equal(ran, 0);
  });

  it('records a call that threw after it was allowed, as an event under its decision on the PDP', async () => {
    const failing = guard(
      remote,
      () => {
        throw Object.assign(new RangeError('ledger 7 offline'), { code: 'E_REMOTE_LEDGER' });
      },
      { action: 'invokeTool', resource: LEDGER, agent: 'ledger-bot', session: 'fail-1' },
    );
    await assert.rejects(failing(), { name: 'RangeError', message: 'ledger 7 offline' });
    const r = await fetch(`${node.url}/v1/audit/records?session=fail-1`, { headers: node.admin });
    const { records } = (await r.json()) as {
      records: {
        id: string;
        kind?: string;
        parent?: string;
        decision: string;
        context?: { failure?: unknown };
      }[];
    };
    const event = records.find((x) => x.kind === 'failure');
    assert.ok(event, JSON.stringify(records));
    assert.deepEqual(event.context?.failure, { error: 'RangeError', code: 'E_REMOTE_LEDGER' });
    assert.equal(records.find((x) => x.id === event.parent)?.decision, 'allow');
    assert.ok(!JSON.stringify(records).includes('ledger 7 offline'));
  });

  it('takes failure reports only for allowed decisions it holds', async () => {
    const report = (id: string, body: unknown = { error: 'Error' }) =>
      fetch(`${node.url}/v1/decisions/${id}/failure`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    assert.equal((await report('0190f000-0000-7000-8000-000000000000')).status, 404);
    const denied = await remote.decide({
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    });
    assert.equal(denied.decision, 'deny');
    assert.equal((await report(denied.decisionId)).status, 409);
    const allowed = await remote.decide({
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: LEDGER,
    });
    assert.equal((await report(allowed.decisionId, { error: 'x'.repeat(129) })).status, 400);
    assert.equal((await report(allowed.decisionId, { error: 'E', stack: 'at …' })).status, 400);
    assert.equal((await report(allowed.decisionId)).status, 201);
  });

  it('records at most FAILURES_PER_DECISION failures of one decision, refusing more with 429', async () => {
    const allowed = await remote.decide({
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: LEDGER,
      session: 'flood-1',
    });
    assert.equal(allowed.decision, 'allow');
    // A caller allowed one action tries to grow the log without end, all at once.
    const answers = await Promise.all(
      Array.from({ length: FAILURES_PER_DECISION + 15 }, () =>
        fetch(`${node.url}/v1/decisions/${allowed.decisionId}/failure`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error: 'Error' }),
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, FAILURES_PER_DECISION);
    assert.equal(statuses.filter((s) => s === 429).length, 15);
    const refused = answers.find((a) => a.status === 429);
    assert.match(
      ((await refused?.json()) as { error: string }).error,
      /already has 10 failures recorded, the most one decision takes/,
    );
    const r = await fetch(`${node.url}/v1/audit/records?session=flood-1`, { headers: node.admin });
    const { records } = (await r.json()) as { records: { kind?: string }[] };
    assert.equal(records.filter((x) => x.kind === 'failure').length, FAILURES_PER_DECISION);
  });

  it('answers repeats of a decision its policy marks @cache_ttl from the cache, and nothing else', async () => {
    // Without the result rules: a result decided afresh needs the PDP (fail closed), and this
    // is about what the cache answers for the call itself.
    const policies = await sdkPolicies();
    await rm(join(policies, 'content.cedar'));
    const other = await startServeNode('sdk-cache', { config: { policies } });
    const c2 = new RemoteDecider({ url: other.url, timeoutMs: 2_000 });
    try {
      const lookup = guard(c2, (id: string) => `customer ${id}`, {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'crm/lookup' },
        agent: 'support-bot',
      });
      const read = guard(c2, () => 'ledger', {
        action: 'invokeTool',
        resource: LEDGER,
        agent: 'ledger-bot',
      });
      assert.equal(await lookup('c-9'), 'customer c-9');
      assert.equal(await read(), 'ledger');
      await other.stop();
      // The PDP is gone: the cacheable decision for the same input still stands …
      assert.equal(await lookup('c-9'), 'customer c-9');
      // … but other input, and a decision no policy marked cacheable, fail closed.
      assert.equal((await refusal(lookup('c-10'))).code, 'CORDON_UNAVAILABLE');
      assert.equal((await refusal(read())).code, 'CORDON_UNAVAILABLE');
    } finally {
      await c2.close();
      await other.stop();
    }
  });
});

describe('guard() when the remote PDP fails', () => {
  it('refuses without running the function when the PDP cannot be reached', async () => {
    const { url, server } = await fakePdp(() => {});
    server.close();
    await once(server, 'close');
    const down = new RemoteDecider({ url, timeoutMs: 1_000 });
    let ran = 0;
    const f = guard(down, () => ran++, { action: 'invokeTool', resource: LEDGER, agent: 'a' });
    const e = await refusal(f());
    assert.equal(e.code, 'CORDON_UNAVAILABLE');
    assert.match(e.message, /cannot be reached/);
    assert.equal(ran, 0);
    await down.close();
  });

  it('refuses after its timeout when the PDP does not answer, without running the function', async () => {
    const { url, server } = await fakePdp(() => {
      /* never answers */
    });
    const slow = new RemoteDecider({ url, timeoutMs: 200 });
    let ran = 0;
    const f = guard(slow, () => ran++, { action: 'invokeTool', resource: LEDGER, agent: 'a' });
    const e = await refusal(f());
    assert.equal(e.code, 'CORDON_UNAVAILABLE');
    assert.match(e.message, /no answer from the PDP .* within 200 ms/);
    assert.equal(e.outcome, 'deny');
    assert.equal(ran, 0);
    await slow.close().catch(() => {});
    server.closeAllConnections();
    server.close();
  });

  it('refuses when the PDP answers with an error or with something that is not a decision', async () => {
    const bodies = [
      { status: 500, body: '{"error":"internal"}' },
      { status: 200, body: '{"decision":"allow"}' },
      { status: 200, body: '{"decision":"yes","decisionId":"x","reasons":[],"obligations":[]}' },
      { status: 200, body: 'allow' },
    ];
    let i = 0;
    const { url, server } = await fakePdp((_req, res) => {
      const b = bodies[i++]!;
      res.writeHead(b.status, { 'content-type': 'application/json' }).end(b.body);
    });
    const broken = new RemoteDecider({ url, timeoutMs: 2_000, cache: false });
    let ran = 0;
    const f = guard(broken, () => ran++, { action: 'invokeTool', resource: LEDGER, agent: 'a' });
    for (const _ of bodies) assert.equal((await refusal(f())).code, 'CORDON_UNAVAILABLE');
    assert.equal(ran, 0);
    await broken.close();
    server.close();
  });
});

/** The id of the pending approval request for the wire transfer of `amount`. */
async function pendingFor(node: ServeNode, amount: number): Promise<string> {
  for (;;) {
    const r = await fetch(`${node.url}/v1/approvals?status=pending`, { headers: node.admin });
    const { approvals } = (await r.json()) as {
      approvals: { id: string; request: { input?: { amount?: number } } }[];
    };
    const mine = approvals.find((a) => a.request.input?.amount === amount);
    if (mine) return mine.id;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function approve(node: ServeNode, id: string, verb: 'approve' | 'deny' = 'approve') {
  const r = await fetch(`${node.url}/v1/approvals/${id}/${verb}`, {
    method: 'POST',
    headers: { ...node.admin, 'content-type': 'application/json' },
    body: JSON.stringify({ approver: 'carol' }),
  });
  assert.equal(r.status, 200, await r.text());
}
