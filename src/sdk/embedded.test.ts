import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../audit/record.js';
import { tempDir } from '../testing/fixtures.js';
import { sdkPolicies } from '../testing/sdk.js';
import { EmbeddedDecider } from './embedded.js';
import { CordonDeniedError, guard } from './guard.js';

async function records(d: EmbeddedDecider): Promise<AuditRecord[]> {
  const rows = await d.pdp.audit!.store.tail(50);
  return rows.map((r) => JSON.parse(r.record) as AuditRecord);
}

describe('guard() with the embedded decision point', () => {
  let decider: EmbeddedDecider;
  let data: string;
  before(async () => {
    data = await tempDir('cordon-sdk-data-');
    decider = await EmbeddedDecider.open({ policies: await sdkPolicies(), data });
  });
  after(() => decider.close());

  it('runs an allowed call with its arguments as context.input and records the decision', async () => {
    let ran = 0;
    const readLedger = guard(
      decider,
      (q: { account: number }) => {
        ran++;
        return { account: q.account, balance: 10 };
      },
      {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
        agent: 'ledger-bot',
      },
    );
    assert.deepEqual(await readLedger({ account: 7 }), { account: 7, balance: 10 });
    assert.equal(ran, 1);
    const last = (await records(decider)).at(-1)!;
    assert.equal(last.decision, 'allow');
    assert.equal(last.pep, 'sdk');
    assert.equal(last.agent, 'ledger-bot');
  });

  it('counts the set membership the host states for a resource entities.json does not list', async () => {
    // sdk.cedar lets support-bot call any tool of McpServer::"helpdesk"; the tool is unlisted.
    const call = (parents: { type: string; id: string }[]) =>
      guard(decider, () => 'ok', {
        action: 'invokeTool',
        resource: {
          type: 'Tool',
          id: 'helpdesk/new_ticket',
          attrs: { readOnly: false, destructive: false, irreversible: false },
          parents,
        },
        agent: 'support-bot',
      })();
    assert.equal(await call([{ type: 'McpServer', id: 'helpdesk' }]), 'ok');
    await assert.rejects(call([]), CordonDeniedError);
  });

  it('never runs a denied call, and throws the reasons and the decision id', async () => {
    let ran = 0;
    const drop = guard(decider, () => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
      agent: 'ledger-bot',
    });
    const e = await drop().then(
      () => assert.fail('allowed'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof CordonDeniedError);
    assert.equal(e.code, 'CORDON_DENIED');
    assert.equal(e.outcome, 'deny');
    assert.ok(e.decisionId);
    assert.ok(e.reasons.length > 0);
    assert.equal(ran, 0);
    const rec = (await records(decider)).find((r) => r.id === e.decisionId);
    assert.equal(rec?.decision, 'deny');
  });

  it('takes the identity from the decider defaults when the guard names none', async () => {
    const defaults = await EmbeddedDecider.open({
      policies: await sdkPolicies(),
      data: await tempDir('cordon-sdk-data-'),
      agent: 'ledger-bot',
      audit: false,
    });
    try {
      const read = guard(defaults, () => 'ok', {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
      });
      assert.equal(await read(), 'ok');
      const refused = guard(defaults, () => 'ok', {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
        agent: 'bob-the-unknown',
      });
      await assert.rejects(refused(), { code: 'CORDON_DENIED' });
    } finally {
      await defaults.close();
    }
  });

  it('applies redaction obligations to the result before the caller sees it', async () => {
    const lookup = guard(
      decider,
      (id: string) => ({
        id,
        note: 'Reach the customer at jane.doe@example.com',
        contacts: ['call 415-555-0132', 'ok'],
      }),
      {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'crm/lookup' },
        agent: 'support-bot',
      },
    );
    const r = await lookup('c-1');
    assert.equal(r.id, 'c-1');
    assert.ok(!r.note.includes('jane.doe@example.com'), r.note);
    assert.match(r.note, /\[REDACTED:EMAIL/);
    assert.equal(r.contacts[1], 'ok');
  });

  it('withholds a result it must redact but cannot read', async () => {
    const lookup = guard(decider, () => new Map([['email', 'jane.doe@example.com']]), {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'crm/lookup' },
      agent: 'support-bot',
    });
    await assert.rejects(lookup(), (e: unknown) => {
      assert.ok(e instanceof CordonDeniedError);
      assert.equal(e.code, 'CORDON_DENIED');
      assert.equal(e.reasons[0]?.policy, 'cordon/redaction-failed');
      return true;
    });
  });

  it('records a call that threw after it was allowed, as an event whose parent is the decision', async () => {
    const failing = guard(
      decider,
      () => {
        throw Object.assign(new TypeError('ledger offline: account 7'), { code: 'E_LEDGER' });
      },
      {
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
        agent: 'ledger-bot',
      },
    );
    await assert.rejects(failing(), { name: 'TypeError', message: 'ledger offline: account 7' });
    const all = await records(decider);
    const event = all.at(-1)!;
    assert.equal(event.kind, 'failure');
    const allowed = all.find((r) => r.id === event.parent);
    assert.equal(allowed?.decision, 'allow');
    assert.deepEqual(event.context?.failure, { error: 'TypeError', code: 'E_LEDGER' });
    assert.equal(event.reasons[0]?.policy, 'cordon/call-failed');
    // The message may quote the input: it is not recorded.
    assert.ok(!JSON.stringify(event).includes('ledger offline'));
  });

  it('refuses a call that needs approval at once unless told to wait', async () => {
    let ran = 0;
    const wire = guard(decider, (_t: { amount: number }) => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      agent: 'ledger-bot',
    });
    await assert.rejects(wire({ amount: 1 }), (e: unknown) => {
      assert.ok(e instanceof CordonDeniedError);
      assert.equal(e.code, 'CORDON_APPROVAL_REQUIRED');
      assert.equal(e.outcome, 'require_approval');
      assert.ok(e.approvalId);
      return true;
    });
    assert.equal(ran, 0);
  });

  it('waits for an approval and runs the call once a person approved it', async () => {
    let ran = 0;
    const wire = guard(decider, (t: { amount: number }) => (ran++, `sent ${t.amount}`), {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      agent: 'ledger-bot',
      approval: { wait: true, timeoutMs: 30_000 },
    });
    const call = wire({ amount: 250 });
    const mine = async () =>
      (await decider.listApprovals({ status: 'pending' })).find(
        (a) => (a.request.input as { amount?: number } | undefined)?.amount === 250,
      );
    let pending;
    while (!(pending = await mine())) await new Promise((r) => setTimeout(r, 20));
    assert.equal(ran, 0);
    // Bob is an intern: policy refuses his answer, and the call keeps waiting.
    await assert.rejects(decider.answer(pending.id, 'approved', 'bob'));
    assert.equal(ran, 0);
    await decider.answer(pending.id, 'approved', 'carol');
    assert.equal(await call, 'sent 250');
    assert.equal(ran, 1);
  });

  it('refuses when the wait for an approval ends unanswered', async () => {
    let ran = 0;
    const wire = guard(decider, (_t: { amount: number }) => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      agent: 'ledger-bot',
      approval: { wait: true, timeoutMs: 50 },
    });
    await assert.rejects(wire({ amount: 999 }), { code: 'CORDON_APPROVAL_REQUIRED' });
    assert.equal(ran, 0);
  });

  it('refuses input that cannot be expressed as JSON without deciding or running', async () => {
    let ran = 0;
    const f = guard(decider, (_x: unknown) => ran++, {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/read_ledger' },
      agent: 'ledger-bot',
    });
    await assert.rejects(f({ n: 1n }), { code: 'CORDON_DENIED' });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(f(cyclic), { code: 'CORDON_DENIED' });
    assert.equal(ran, 0);
  });
});
