import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Engine } from '../core/engine.js';
import { sessionStage } from '../core/stages/session.js';
import type { ActionRequest } from '../core/types.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import {
  agent,
  compileOk,
  entities,
  EXAMPLE_POLICIES,
  tempDir,
  user,
} from '../testing/fixtures.js';
import { egressDecider } from '../kernel/run.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SessionCache } from '../store/cache/sessions.js';
import { SqliteSessionEvents } from '../store/sqlite/sessions.js';

const DAY = 86_400_000;

async function service(
  dataDir: string,
  labelWindowMs = DAY,
  clock?: () => Date,
  set?: CompiledPolicySet,
) {
  const compiled = set ? { ok: true as const, set } : await loadPolicyDir(EXAMPLE_POLICIES);
  assert.ok(compiled.ok);
  const events = new SqliteSessionEvents(dataDir);
  const store = Object.assign(new SessionCache(events, 600_000), {
    close: () => events.close(),
    events: (key: string) => events.eventsNow(key, { after: 0, limit: 1000 }).events,
  });
  const engine = new Engine({
    policies: { current: () => compiled.set },
    stages: [sessionStage(store, { labelWindowMs })],
    ...(clock ? { clock } : {}),
  });
  return {
    decisions: new DecisionService(
      engine,
      new Metrics(),
      pino({ level: 'silent' }),
      undefined,
      store,
    ),
    store,
  };
}

const read = (agent: string, session: string, field: string): ActionRequest => ({
  agent,
  session,
  action: 'readData',
  resource: { type: 'Field', id: field },
});
const post = (agent: string, session: string | undefined, host: string): ActionRequest => ({
  agent,
  ...(session !== undefined ? { session } : {}),
  action: 'sendExternal',
  resource: { type: 'NetworkDestination', id: `${host}:443` },
});

describe('SessionSummary', () => {
  it('counts only inside the window; labels and allowed actions stay for the session', async () => {
    const { SessionSummary } = await import('../core/stages/session.js');
    const s = new SessionSummary(1000);
    const at = (time: number, outcome: 'allow' | 'deny', labels: string[] = []) =>
      s.add({
        decisionId: `d${time}`,
        time,
        action: 'readData',
        resource: 'Field::"x"',
        outcome,
        labels,
        destructive: true,
      });
    at(0, 'allow', ['pii']);
    at(500, 'deny');
    assert.deepEqual(s.view(600).counts, { total: 2, destructive: 1, denied: 1 });
    assert.deepEqual(s.view(1_700).counts, { total: 0, destructive: 0, denied: 0 });
    const v = s.view(1_700);
    assert.deepEqual(v.labels, ['pii']);
    assert.deepEqual(v.actions, ['readData']);
    assert.equal(v.origins[0]?.decisionId, 'd0');
  });
});

describe('session-aware decisions', () => {
  it('blocks the exfiltration chain at the send, naming the label and the earlier read', async () => {
    const data = await tempDir('cordon-sessions-');
    const { decisions, store } = await service(data);
    assert.equal(
      (await decisions.decide(read('support-bot', 'ticket-4711', 'crm/tickets.body'))).decision,
      'allow',
    );
    const pii = await decisions.decide(read('support-bot', 'ticket-4711', 'crm/customers.ssn'));
    assert.equal(
      pii.decision,
      'allow',
      'the read itself is allowed: it is what follows that is not',
    );
    const send = await decisions.decide(post('support-bot', 'ticket-4711', 'paste.example.com'));
    assert.equal(send.decision, 'deny');
    const reason = send.reasons.find((r) => r.policy === 'no-exfiltration-after-sensitive-read');
    assert.ok(reason, JSON.stringify(send.reasons));
    assert.match(
      reason.message ?? '',
      new RegExp(
        `"pii" \\(from decision ${pii.decisionId}: readData Field::"crm/customers.ssn"\\)`,
      ),
    );
    assert.equal(
      (await decisions.decide(post('support-bot', 'ticket-4711', 'dashboard.internal'))).decision,
      'allow',
      'internal posts still work',
    );
    store.close();
  });

  it('keeps the chain rule across sessions: a new session id or none does not wash a PII read away', async () => {
    const { decisions, store } = await service(await tempDir('cordon-sessions-'));
    const pii = await decisions.decide(read('support-bot', 'session-a', 'crm/customers.ssn'));
    assert.equal(pii.decision, 'allow');
    for (const session of ['session-b', undefined]) {
      const send = await decisions.decide(post('support-bot', session, 'paste.example.com'));
      assert.equal(send.decision, 'deny', `session ${session ?? '(none)'}`);
      const reason = send.reasons.find((r) => r.policy === 'no-exfiltration-after-sensitive-read');
      assert.match(reason?.message ?? '', new RegExp(`from decision ${pii.decisionId}`));
    }
    // context.session.sessionLabels is this session's alone: a policy may still ask for that.
    const inB = await decisions.decide(post('support-bot', 'session-b', 'dashboard.internal'));
    assert.equal(inB.decision, 'allow');
    store.close();
  });

  it('carries labels with the user too: another agent acting for the same user is refused', async () => {
    // The shipped chain rule, with two agents and a user that may do everything else.
    const set = compileOk({
      'entities.json': entities([
        agent('a1'),
        agent('a2'),
        user('u'),
        { uid: { type: 'Field', id: 'ssn' }, attrs: { classification: 'pii' }, parents: [] },
      ]),
      'p.cedar': `permit(principal, action, resource);
        forbid(principal, action == Action::"sendExternal", resource)
        when { context.session.labels.contains("pii") };`,
    });
    const { decisions, store } = await service(
      await tempDir('cordon-sessions-'),
      DAY,
      undefined,
      set,
    );
    const readAs = { agent: 'a1', user: 'u', session: 'x', action: 'readData' };
    assert.equal(
      (await decisions.decide({ ...readAs, resource: { type: 'Field', id: 'ssn' } })).decision,
      'allow',
    );
    const send = {
      action: 'sendExternal',
      resource: { type: 'NetworkDestination', id: 'out:443' },
    };
    assert.equal((await decisions.decide({ agent: 'a2', user: 'u', ...send })).decision, 'deny');
    // Without the user, the other agent carries nothing.
    assert.equal((await decisions.decide({ agent: 'a2', ...send })).decision, 'allow');
    store.close();
  });

  it('lets labels go after the window, and keeps them to their session with a window of 0', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const data = await tempDir('cordon-sessions-');
    const { decisions, store } = await service(data, 3_600_000, () => new Date(now));
    await decisions.decide(read('support-bot', 'a', 'crm/customers.ssn'));
    now += 3_599_000;
    assert.equal(
      (await decisions.decide(post('support-bot', 'b', 'paste.example.com'))).decision,
      'deny',
    );
    now += 2_000;
    assert.equal(
      (await decisions.decide(post('support-bot', 'b', 'paste.example.com'))).decision,
      'allow',
      'past the window, another session is clean',
    );
    assert.equal(
      (await decisions.decide(post('support-bot', 'a', 'paste.example.com'))).decision,
      'deny',
      'the session itself keeps its labels',
    );
    store.close();
    const off = await service(await tempDir('cordon-sessions-'), 0);
    await off.decisions.decide(read('support-bot', 'a', 'crm/customers.ssn'));
    assert.equal(
      (await off.decisions.decide(post('support-bot', 'b', 'paste.example.com'))).decision,
      'allow',
    );
    off.store.close();
  });

  it('does not let another agent inherit a session by reusing its id', async () => {
    const { decisions, store } = await service(await tempDir('cordon-sessions-'));
    await decisions.decide(read('support-bot', 'shared-id', 'crm/customers.ssn'));
    assert.equal(
      (await decisions.decide(post('support-bot', 'shared-id', 'paste.example.com'))).decision,
      'deny',
    );
    assert.equal(
      (await decisions.decide(post('support-bot-2', 'shared-id', 'paste.example.com'))).decision,
      'allow',
    );
    store.close();
  });

  it('keeps the taint across a restart, and only what was allowed taints', async () => {
    const data = await tempDir('cordon-sessions-');
    const first = await service(data);
    await first.decisions.decide(read('support-bot', 's', 'crm/customers.ssn'));
    first.store.close();
    const again = await service(data);
    assert.equal(
      (await again.decisions.decide(post('support-bot', 's', 'paste.example.com'))).decision,
      'deny',
    );
    // A denied read does not taint: forecast-bot may not read CRM data at all.
    await again.decisions.decide(read('forecast-bot', 't', 'crm/customers.ssn'));
    const events = again.store.events('forecast-bot\u0000t');
    assert.deepEqual(
      events.map((e) => [e.outcome, e.labels]),
      [['deny', []]],
    );
    again.store.close();
  });

  it('denies when the session history cannot be updated (a lost read would loosen the next decision)', async () => {
    const data = await tempDir('cordon-sessions-');
    const { decisions, store } = await service(data);
    assert.equal(
      (await decisions.decide(read('support-bot', 'fragile', 'crm/tickets.body'))).decision,
      'allow',
    );
    // The store fails underneath: history can still be read, but nothing can be appended.
    const other = new Database(join(data, 'sessions.db'));
    other.exec(`CREATE TRIGGER full BEFORE INSERT ON session_events
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    other.close();
    const d = await decisions.decide(read('support-bot', 'fragile', 'crm/customers.ssn'));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/session-unavailable');
    store.close();
  });

  it('counts destructive actions in the window and restricts past the limit', async () => {
    const { decisions, store } = await service(await tempDir('cordon-sessions-'));
    const drop = {
      agent: 'director-agent',
      user: 'carol',
      session: 'ops',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    };
    const approved = { approval: { granted: true, by: 'dana' } };
    for (let i = 0; i < 5; i++)
      assert.equal((await decisions.decide(drop, approved)).decision, 'allow', `drop ${i + 1}`);
    const sixth = await decisions.decide(drop, approved);
    assert.equal(sixth.decision, 'deny');
    assert.deepEqual(sixth.obligations, [{ type: 'restrict', policy: 'destructive-burst' }]);
    store.close();
  });

  it("reaches `cordon run`'s egress proxy: after a PII read in the session, nothing leaves for an outside host", async () => {
    const { decisions, store } = await service(await tempDir('cordon-sessions-'));
    const readPii = await decisions.decide({
      agent: 'analyst-bot',
      session: 'job-7',
      action: 'readFile',
      resource: {
        type: 'FilePath',
        id: '/workspace/analyst-1/customers.csv',
        attrs: { path: '/workspace/analyst-1/customers.csv', labels: ['pii'] },
      },
    });
    assert.equal(readPii.decision, 'allow');
    // An approved endpoint is refused in the session the agent was started in…
    const inSession = await egressDecider(decisions, 'analyst-bot', 'job-7')('api.openai.com', 443);
    assert.equal(inSession.allow, false);
    assert.match(inSession.reason, /no-exfiltration-after-sensitive-read/);
    // …and outside it: the label stays with the agent for the label window.
    const outside = await egressDecider(decisions, 'analyst-bot')('api.openai.com', 443);
    assert.equal(outside.allow, false);
    assert.match(outside.reason, /no-exfiltration-after-sensitive-read/);
    store.close();
    // With no label window, a launch in another session starts clean.
    const off = await service(await tempDir('cordon-sessions-'), 0);
    const clean = await egressDecider(off.decisions, 'analyst-bot')('api.openai.com', 443);
    assert.equal(clean.allow, true, clean.reason);
    off.store.close();
  });
});
