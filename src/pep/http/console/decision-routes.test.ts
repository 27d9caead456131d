import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXAMPLE_POLICIES } from '../../../testing/fixtures.js';
import { checkConsoleProof, type ConsoleProof } from '../../../audit/webcrypto-proof.js';
import { ConsoleBrowser, consoleApp, type ConsoleTestApp } from '../../../testing/console.js';
import { SseReader } from '../../../testing/sse.js';
import type { DecisionSummary } from './records.js';

let t: ConsoleTestApp;
let admin: ConsoleBrowser;
const streams: AbortController[] = [];

before(async () => {
  // Keep-alives every 50 ms, so a test sees one without waiting 15 s.
  t = await consoleApp({ console: { heartbeatMs: 50 } });
  admin = new ConsoleBrowser(t.base);
  const res = await fetch(`${t.base}/v1/console/sign-in-tokens`, {
    method: 'POST',
    headers: t.admin,
  });
  const { signInToken } = (await res.json()) as { signInToken: string };
  assert.equal((await admin.signIn({ signInToken })).status, 201);
});
after(async () => {
  for (const s of streams) s.abort();
  await t.close();
});

const read = (agent: string, session?: string) =>
  t.decisions.decide({
    agent,
    action: 'invokeTool',
    resource: { type: 'Tool', id: 'erp/read_ledger' },
    ...(session ? { session } : {}),
  });

async function open(path: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  streams.push(abort);
  const res = await fetch(`${t.base}${path}`, {
    headers: { cookie: admin.cookie, ...headers },
    signal: abort.signal,
  });
  if (res.status !== 200) assert.fail(`${res.status} ${await res.text()}`);
  assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
  return new SseReader(res);
}

describe('the decision stream', () => {
  it('streams decisions as they are recorded, filtered, and resumes after Last-Event-ID', async () => {
    await read('ledger-bot');
    const s = await open('/v1/console/decisions/stream?agent=ledger-bot&backlog=10');
    await s.until((r) => r.json('decision').length >= 1, 'the backlog');
    assert.equal(s.retry, 3000);
    const first = await read('ledger-bot', 'web-1');
    await read('forecast-bot'); // filtered out: another agent
    const third = await read('ledger-bot', 'web-1');
    await s.until((r) =>
      r.json<DecisionSummary>('decision').some((d) => d.id === third.decisionId),
    );
    const got = s.json<DecisionSummary>('decision');
    assert.ok(
      got.every((d) => d.agent === 'ledger-bot'),
      'only the filtered agent',
    );
    const live = got.filter((d) => d.session === 'web-1');
    assert.deepEqual(
      live.map((d) => d.id),
      [first.decisionId, third.decisionId],
    );
    assert.equal(live[0]!.decision, 'allow');
    assert.deepEqual(live[0]!.policies, ['finance-readonly-tools']);
    assert.deepEqual(live[0]!.resource, { type: 'Tool', id: 'erp/read_ledger' });
    const ids = s.events.filter((e) => e.event === 'decision').map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'ids are increasing log positions',
    );

    // The browser reconnects with the last id it saw: only what came after.
    const lastSeen = s.events.find((e) => JSON.parse(e.data).id === first.decisionId)!.id!;
    const again = await open('/v1/console/decisions/stream?agent=ledger-bot', {
      'last-event-id': lastSeen,
    });
    await again.until((r) => r.json('decision').length >= 1);
    assert.deepEqual(
      again.json<DecisionSummary>('decision').map((d) => d.id),
      [third.decisionId],
      'no backlog, no repeats: resumed from the log',
    );
  });

  it('an outcome filter and a policy filter', async () => {
    const s = await open('/v1/console/decisions/stream?outcome=deny&backlog=0');
    const p = await open('/v1/console/decisions/stream?policy=finance-readonly-tools&backlog=0');
    const denied = await read('forecast-bot');
    const allowed = await read('ledger-bot');
    await s.until((r) =>
      r.json<DecisionSummary>('decision').some((d) => d.id === denied.decisionId),
    );
    await p.until((r) =>
      r.json<DecisionSummary>('decision').some((d) => d.id === allowed.decisionId),
    );
    assert.ok(s.json<DecisionSummary>('decision').every((d) => d.decision === 'deny'));
    assert.ok(!p.json<DecisionSummary>('decision').some((d) => d.id === denied.decisionId));
  });

  it('sends keep-alive comments while nothing happens', async () => {
    const s = await open('/v1/console/decisions/stream?agent=nobody-at-all');
    await s.until((r) => r.comments >= 2, 'two keep-alives');
    assert.equal(s.json('decision').length, 0);
  });

  it('ends a stream once its session is signed out', async () => {
    const b = new ConsoleBrowser(t.base);
    const res = await fetch(`${t.base}/v1/console/sign-in-tokens`, {
      method: 'POST',
      headers: t.admin,
    });
    const { signInToken } = (await res.json()) as { signInToken: string };
    assert.equal((await b.signIn({ signInToken })).status, 201);
    const abort = new AbortController();
    streams.push(abort);
    const s = new SseReader(
      await fetch(`${t.base}/v1/console/decisions/stream`, {
        headers: { cookie: b.cookie },
        signal: abort.signal,
      }),
    );
    assert.equal((await b.call('DELETE', '/v1/console/session')).status, 204);
    await s.until((r) => r.ended, 'the end of the stream');
    assert.equal(s.json('end').length, 1);
  });

  it('sends not one more record once its session is signed out, even between keep-alives', async () => {
    // Keep-alives every 15 s (the default): the end must not wait for the next one.
    const slow = await consoleApp();
    try {
      const minted = await fetch(`${slow.base}/v1/console/sign-in-tokens`, {
        method: 'POST',
        headers: slow.admin,
      });
      const { signInToken } = (await minted.json()) as { signInToken: string };
      const b = new ConsoleBrowser(slow.base);
      assert.equal((await b.signIn({ signInToken })).status, 201);
      const abort = new AbortController();
      streams.push(abort);
      const s = new SseReader(
        await fetch(`${slow.base}/v1/console/decisions/stream?backlog=0&kind=all`, {
          headers: { cookie: b.cookie },
          signal: abort.signal,
        }),
      );
      assert.equal((await b.call('DELETE', '/v1/console/session')).status, 204);
      const after = await slow.decisions.decide({
        agent: 'ledger-bot',
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
      });
      await s.until((r) => r.ended || r.json('decision').length > 0, 'a record or the end');
      assert.ok(
        !s.json<DecisionSummary>('decision').some((d) => d.id === after.decisionId),
        'a record reached a signed-out session',
      );
      await s.until((r) => r.ended, 'the end of the stream');
      assert.equal(s.json('end').length, 1);
    } finally {
      await slow.close();
    }
  });

  it('ends a stream opened with a bearer token once the token expires', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const abort = new AbortController();
    streams.push(abort);
    const res = await fetch(`${t.base}/v1/console/decisions/stream?backlog=0`, {
      headers: { authorization: `Bearer ${await t.idToken('carol', exp)}` },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    const s = new SseReader(res);
    while (Date.now() < exp * 1000 + 50) await new Promise((r) => setTimeout(r, 100));
    const late = await read('ledger-bot');
    await s.until((r) => r.ended || r.json('decision').length > 0, 'a record or the end');
    assert.ok(
      !s.json<DecisionSummary>('decision').some((d) => d.id === late.decisionId),
      'a record reached an expired token',
    );
    await s.until((r) => r.ended, 'the end of the stream');
  });

  it('refuses without a session (401), a person without viewDecisions (403), bad input (400)', async () => {
    assert.equal((await fetch(`${t.base}/v1/console/decisions/stream`)).status, 401);
    const bob = await fetch(`${t.base}/v1/console/decisions`, {
      headers: { authorization: `Bearer ${await t.idToken('bob')}` },
    });
    assert.equal(bob.status, 403);
    const body = (await bob.json()) as { error: string; reasons: unknown[] };
    assert.match(body.error, /user bob may not viewDecisions ControlPlane::"decisions"/);
    for (const q of ['outcome=maybe', 'backlog=501', 'kind=x', 'nope=1', 'lastEventId=x'])
      assert.equal((await admin.call('GET', `/v1/console/decisions/stream?${q}`)).status, 400, q);
    const badId = await admin.call('GET', '/v1/console/decisions/stream', {
      headers: { 'last-event-id': 'abc' },
    });
    assert.equal(badId.status, 400);
    assert.equal((await admin.call('GET', '/v1/console/decisions?limit=0')).status, 400);
  });
});

describe('decision pages and detail', () => {
  it('pages back through the log, newest first', async () => {
    for (let i = 0; i < 5; i++) await read('ledger-bot', 'paging');
    const res = await admin.call('GET', '/v1/console/decisions?agent=ledger-bot&limit=2');
    const page = (await res.json()) as { decisions: DecisionSummary[]; next: number };
    assert.equal(page.decisions.length, 2);
    assert.ok(page.decisions[0]!.seq > page.decisions[1]!.seq);
    const more = (await (
      await admin.call('GET', `/v1/console/decisions?agent=ledger-bot&limit=2&before=${page.next}`)
    ).json()) as { decisions: DecisionSummary[] };
    assert.ok(more.decisions[0]!.seq < page.decisions[1]!.seq, 'the next page is older');
  });

  it('a decision with its policies located, its parent, children and session', async () => {
    const parent = await read('ledger-bot', 'chain-1');
    const child = await t.decisions.decide({
      agent: 'ledger-bot',
      session: 'chain-1',
      parent: parent.decisionId,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/wire_transfer' },
      input: { amount: 100 },
    });
    const res = await admin.call('GET', `/v1/console/decisions/${parent.decisionId}`);
    assert.equal(res.status, 200);
    const d = (await res.json()) as {
      record: { id: string; inputDigest?: string };
      policies: { id: string; file: string; line: number }[];
      children: DecisionSummary[];
      session: { decisions: DecisionSummary[] };
    };
    assert.equal(d.record.id, parent.decisionId);
    assert.deepEqual(
      d.policies.map((p) => [p.id, p.file]),
      [['finance-readonly-tools', 'finance.cedar']],
    );
    assert.equal(
      d.policies[0]!.line,
      (await readFile(join(EXAMPLE_POLICIES, 'finance.cedar'), 'utf8'))
        .split('\n')
        .indexOf('@id("finance-readonly-tools")') + 1,
      'the line of the policy (its annotation) in finance.cedar',
    );
    assert.deepEqual(
      d.children.map((c) => c.id),
      [child.decisionId],
    );
    assert.deepEqual(
      d.session.decisions.map((c) => c.id),
      [parent.decisionId, child.decisionId],
    );
    const c = (await (
      await admin.call('GET', `/v1/console/decisions/${child.decisionId}`)
    ).json()) as {
      parent: DecisionSummary;
      record: { input?: unknown; inputDigest?: string };
    };
    assert.equal(c.parent.id, parent.decisionId);
    assert.equal(c.record.input, undefined, 'raw input is not shown: the log did not keep it');
    assert.match(c.record.inputDigest!, /^sha256:/);
    assert.equal((await admin.call('GET', '/v1/console/decisions/nope')).status, 404);
  });

  it("a policy's source by id, now and in a recorded version", async () => {
    const res = await admin.call('GET', '/v1/console/policies/finance-readonly-tools/source');
    const p = (await res.json()) as { text: string; file: string; version: string; effect: string };
    assert.equal(p.file, 'finance.cedar');
    assert.equal(p.effect, 'permit');
    assert.match(p.text, /@id\("finance-readonly-tools"\)/);
    const v = await admin.call(
      'GET',
      `/v1/console/policies/finance-readonly-tools/source?version=${encodeURIComponent(p.version)}`,
    );
    assert.equal(v.status, 200);
    assert.equal((await admin.call('GET', '/v1/console/policies/nope/source')).status, 404);
    const old = await admin.call('GET', '/v1/console/policies/x/source?version=sha256:00');
    assert.equal(old.status, 404);
  });

  it('a proof the browser checks with WebCrypto alone; a tampered one fails', async () => {
    const d = await read('ledger-bot', 'proof');
    await t.audit.checkpoint();
    const res = await admin.call('GET', `/v1/console/decisions/${d.decisionId}/proof`);
    assert.equal(res.status, 200);
    const proof = (await res.json()) as ConsoleProof & { key: { verifierKey: string } };
    assert.equal(proof.key.verifierKey, t.audit.verifierKey);
    assert.deepEqual(await checkConsoleProof(proof), {
      ok: true,
      index: proof.index,
      treeSize: proof.treeSize,
      origin: t.audit.origin,
    });
    const tampered = { ...proof, recordText: proof.recordText.replace('"allow"', '"deny"') };
    assert.equal((await checkConsoleProof(tampered)).ok, false);
    const forged = {
      ...proof,
      checkpoint: { ...proof.checkpoint, text: proof.checkpoint.text.replace(/\n\d+\n/, '\n1\n') },
    };
    assert.equal((await checkConsoleProof(forged)).ok, false);
    const badSig = structuredClone(proof);
    badSig.checkpoint.signatures[0]!.signature = Buffer.alloc(64).toString('base64');
    assert.deepEqual(await checkConsoleProof(badSig), {
      ok: false,
      reason: 'the checkpoint signature does not verify',
    });
  });
});
