// The store contract: one suite every backend runs unchanged (store/sqlite/contract.test.ts,
// store/postgres/contract.test.ts), so a behaviour the rest of Cordon relies on cannot hold on
// one backend and not on another. Every test works on keys with a random prefix and reads back
// only what it wrote, so the suite can run again and again against one shared database.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NewApproval } from '../approval/approval.js';
import type { SessionEvent } from '../core/stages/session.js';
import { isolationKey, type ChangeTopic, type IsolationState, type Stores } from './ports.js';

const MIN = 60_000;

export function storeContract(name: string, open: () => Promise<Stores>): void {
  describe(`store contract: ${name}`, () => {
    let stores: Stores;
    /** A fresh prefix per test run: nothing collides with an earlier run on the same database. */
    const run = `ct-${randomUUID().slice(0, 8)}`;
    let n = 0;
    const unique = (what: string) => `${run}-${what}-${++n}`;

    before(async () => {
      stores = await open();
    });
    after(async () => {
      await stores?.close();
    });

    it('reports every part healthy', async () => {
      const h = await stores.health();
      assert.ok(Object.keys(h).length > 0);
      for (const [part, state] of Object.entries(h)) assert.equal(state, 'ok', part);
    });

    describe('approvals', () => {
      const newApproval = (now: number, o: Partial<NewApproval> = {}): NewApproval => ({
        id: unique('approval'),
        binding: `sha256:${unique('binding')}`,
        agent: unique('agent'),
        user: 'alice',
        session: 's-1',
        request: {
          action: 'invokeTool',
          resource: { type: 'Tool', id: 'erp/wire_transfer' },
          input: { amount: 100 },
        },
        decisionId: unique('decision'),
        policyVersion: 'v1',
        reasons: [{ policy: 'gate', effect: 'forbid', annotations: { approval: 'required' } }],
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + 10 * MIN).toISOString(),
        ...o,
      });

      it('keeps a request as created, pending until it expires (computed at read)', async () => {
        const now = Date.now();
        const a = newApproval(now);
        await stores.approvals.create(a);
        const got = await stores.approvals.get(a.id, new Date(now));
        assert.deepEqual(got, { ...a, status: 'pending' });
        assert.equal(
          (await stores.approvals.get(a.id, new Date(now + 11 * MIN)))?.status,
          'expired',
        );
        assert.equal(await stores.approvals.get(unique('missing'), new Date(now)), undefined);
      });

      it('lists newest first, by status, expired ones by what they read as now', async () => {
        const now = Date.now();
        const older = newApproval(now);
        const newer = newApproval(now + 1, { expiresAt: new Date(now + 2 * MIN).toISOString() });
        await stores.approvals.create(older);
        await stores.approvals.create(newer);
        const mine = (list: { id: string }[]) =>
          list.map((a) => a.id).filter((id) => id === older.id || id === newer.id);
        const at = new Date(now + 5 * MIN);
        assert.deepEqual(mine(await stores.approvals.list({ limit: 100 }, at)), [
          newer.id,
          older.id,
        ]);
        assert.deepEqual(mine(await stores.approvals.list({ status: 'pending', limit: 100 }, at)), [
          older.id,
        ]);
        assert.deepEqual(mine(await stores.approvals.list({ status: 'expired', limit: 100 }, at)), [
          newer.id,
        ]);
        const one = await stores.approvals.list({ limit: 1 }, at);
        assert.equal(one.length, 1);
      });

      it('opens one request for concurrent retries of one call, and joins it until it expires', async () => {
        const now = Date.now();
        const binding = `sha256:${unique('binding')}`;
        const at = new Date(now);
        const tries = Array.from({ length: 16 }, (_, i) =>
          stores.approvals.openOrJoin(newApproval(now + i, { binding }), at, 10 * MIN),
        );
        const opened = await Promise.all(tries);
        const ids = new Set(opened.map((a) => a.id));
        assert.equal(ids.size, 1, `one request, not ${ids.size}`);
        assert.equal(opened[0]!.status, 'pending');
        const pending = (
          await stores.approvals.list({ status: 'pending', limit: 1000 }, at)
        ).filter((a) => a.binding === binding);
        assert.equal(pending.length, 1);
        // A denial is joined for the window given, then a retry opens a new request.
        await stores.approvals.settle(opened[0]!.id, { verdict: 'denied', approver: 'bob', at });
        const later = new Date(now + MIN);
        const joined = await stores.approvals.openOrJoin(
          newApproval(now, { binding }),
          later,
          2 * MIN,
        );
        assert.equal(joined.id, opened[0]!.id);
        assert.equal(joined.status, 'denied');
        const fresh = newApproval(now, { binding });
        const reopened = await stores.approvals.openOrJoin(fresh, later, MIN / 2);
        assert.equal(reopened.id, fresh.id);
        // An expired request is not joined either.
        const afterExpiry = new Date(now + 11 * MIN);
        const next = newApproval(now + 11 * MIN, { binding });
        assert.equal((await stores.approvals.openOrJoin(next, afterExpiry, 0)).id, next.id);
      });

      it('finds the newest pending or denied request for a binding, never an approved one', async () => {
        const now = Date.now();
        const binding = `sha256:${unique('binding')}`;
        const first = newApproval(now, { binding });
        const second = newApproval(now + 1, { binding });
        await stores.approvals.create(first);
        await stores.approvals.create(second);
        assert.equal((await stores.approvals.latestFor(binding, new Date(now)))?.id, second.id);
        await stores.approvals.settle(second.id, {
          verdict: 'denied',
          approver: 'bob',
          note: 'no',
          at: new Date(now + 2),
        });
        const denied = await stores.approvals.latestFor(binding, new Date(now + 3));
        assert.equal(denied?.id, second.id);
        assert.equal(denied?.status, 'denied');
        assert.equal(denied?.approver, 'bob');
        assert.equal(denied?.note, 'no');
        const third = newApproval(now + 4, { binding });
        await stores.approvals.create(third);
        await stores.approvals.settle(third.id, {
          verdict: 'approved',
          approver: 'bob',
          at: new Date(now + 5),
          grantExpiresAt: new Date(now + MIN),
          uses: 1,
        });
        assert.equal((await stores.approvals.latestFor(binding, new Date(now + 6)))?.id, second.id);
        assert.equal(
          await stores.approvals.latestFor(`sha256:${unique('none')}`, new Date(now)),
          undefined,
        );
      });

      it('settles a pending request once: of two concurrent answers exactly one wins', async () => {
        const now = Date.now();
        const a = newApproval(now);
        await stores.approvals.create(a);
        const at = new Date(now + 1000);
        const results = await Promise.all([
          stores.approvals.settle(a.id, {
            verdict: 'approved',
            approver: 'bob',
            at,
            uses: 2,
            grantExpiresAt: new Date(now + MIN),
          }),
          stores.approvals.settle(a.id, { verdict: 'denied', approver: 'carol', at }),
        ]);
        assert.equal(results.filter(Boolean).length, 1);
        const got = await stores.approvals.get(a.id, at);
        assert.equal(got?.status, results[0] ? 'approved' : 'denied');
        assert.equal(got?.approver, results[0] ? 'bob' : 'carol');
        assert.equal(got?.decidedAt, at.toISOString());
        assert.equal(
          await stores.approvals.settle(a.id, { verdict: 'approved', approver: 'dave', at }),
          false,
        );
      });

      it('refuses to settle an expired request', async () => {
        const now = Date.now();
        const a = newApproval(now);
        await stores.approvals.create(a);
        const late = new Date(now + 11 * MIN);
        assert.equal(
          await stores.approvals.settle(a.id, { verdict: 'approved', approver: 'bob', at: late }),
          false,
        );
        assert.equal((await stores.approvals.get(a.id, late))?.status, 'expired');
      });

      it('counts uses down and refuses a grant used up, expired or never approved', async () => {
        const now = Date.now();
        const a = newApproval(now);
        await stores.approvals.create(a);
        assert.equal(await stores.approvals.consume(a.id, new Date(now)), false, 'pending');
        await stores.approvals.settle(a.id, {
          verdict: 'approved',
          approver: 'bob',
          at: new Date(now + 1),
          grantExpiresAt: new Date(now + MIN),
          uses: 2,
        });
        assert.equal(stores.approvals.mayHaveGrants(), true);
        const grant = await stores.approvals.findGrant(a.binding, new Date(now + 2));
        assert.deepEqual(grant, { id: a.id, by: 'bob', at: new Date(now + 1).toISOString() });
        assert.equal(await stores.approvals.consume(a.id, new Date(now + 2)), true);
        assert.equal((await stores.approvals.get(a.id, new Date(now + 2)))?.usesLeft, 1);
        const both = await Promise.all([
          stores.approvals.consume(a.id, new Date(now + 3)),
          stores.approvals.consume(a.id, new Date(now + 3)),
        ]);
        assert.equal(both.filter(Boolean).length, 1, 'the last use is taken once');
        const used = await stores.approvals.get(a.id, new Date(now + 4));
        assert.equal(used?.status, 'used');
        assert.equal(used?.usesLeft, 0);
        assert.equal(await stores.approvals.findGrant(a.binding, new Date(now + 4)), undefined);

        const b = newApproval(now);
        await stores.approvals.create(b);
        await stores.approvals.settle(b.id, {
          verdict: 'approved',
          approver: 'bob',
          at: new Date(now + 1),
          grantExpiresAt: new Date(now + MIN),
          uses: 5,
        });
        const late = new Date(now + 2 * MIN);
        assert.equal(await stores.approvals.consume(b.id, late), false, 'grant expired');
        assert.equal((await stores.approvals.get(b.id, late))?.status, 'expired');
        assert.equal(await stores.approvals.findGrant(b.binding, late), undefined);

        const c = newApproval(now);
        await stores.approvals.create(c);
        await stores.approvals.settle(c.id, {
          verdict: 'denied',
          approver: 'bob',
          at: new Date(now + 1),
        });
        assert.equal(await stores.approvals.consume(c.id, new Date(now + 2)), false, 'denied');
        assert.equal(await stores.approvals.consume(unique('missing'), new Date(now)), false);
      });
    });

    describe('session events', () => {
      const event = (i: number): SessionEvent => ({
        decisionId: `d-${i}`,
        time: 1_000_000 + i,
        action: i % 2 ? 'readFile' : 'invokeTool',
        resource: `File::"/tmp/${i}"`,
        outcome: i % 3 ? 'allow' : 'deny',
        labels: i % 4 ? [] : ['pii'],
        destructive: i % 5 === 0,
      });

      it('reads a key back oldest first, and continues from its cursor', async () => {
        const key = unique('session');
        const empty = await stores.sessions.events(key, { after: 0, limit: 10 });
        assert.deepEqual(empty.events, []);
        for (let i = 0; i < 3; i++) await stores.sessions.append(key, event(i));
        await stores.sessions.append(unique('other'), event(99));
        const first = await stores.sessions.events(key, { after: 0, limit: 10 });
        assert.deepEqual(first.events, [event(0), event(1), event(2)]);
        const none = await stores.sessions.events(key, { after: first.cursor, limit: 10 });
        assert.deepEqual(none, { events: [], cursor: first.cursor });
        await stores.sessions.append(key, event(3));
        const next = await stores.sessions.events(key, { after: first.cursor, limit: 10 });
        assert.deepEqual(next.events, [event(3)]);
        assert.ok(next.cursor > first.cursor);
      });

      it('gives the newest `limit` events when there are more', async () => {
        const key = unique('session');
        for (let i = 0; i < 7; i++) await stores.sessions.append(key, event(i));
        const r = await stores.sessions.events(key, { after: 0, limit: 3 });
        assert.deepEqual(r.events, [event(4), event(5), event(6)]);
        const all = await stores.sessions.events(key, { after: 0, limit: 100 });
        assert.equal(all.cursor, r.cursor);
        await stores.sessions.append(key, event(7));
        await stores.sessions.append(key, event(8));
        const more = await stores.sessions.events(key, { after: r.cursor, limit: 1 });
        assert.deepEqual(more.events, [event(8)]);
      });

      it('keeps concurrent appends to one key, each once', async () => {
        const key = unique('session');
        await Promise.all([0, 1, 2, 3, 4].map((i) => stores.sessions.append(key, event(i))));
        const r = await stores.sessions.events(key, { after: 0, limit: 100 });
        assert.deepEqual(r.events.map((e) => e.decisionId).sort(), [
          'd-0',
          'd-1',
          'd-2',
          'd-3',
          'd-4',
        ]);
      });
    });

    describe('usage', () => {
      it('records one request for each key and reads entries newer than the cursor and the window', async () => {
        const a = unique('agent');
        const u = unique('user');
        const t0 = Date.now();
        await stores.usage.record([a, u], 10, new Date(t0));
        await stores.usage.record([a], 5, new Date(t0 + 1000));
        const all = await stores.usage.entries(a, { after: 0, since: new Date(t0 - MIN) });
        assert.deepEqual(all.entries, [
          { time: t0, tokens: 10 },
          { time: t0 + 1000, tokens: 5 },
        ]);
        assert.deepEqual(
          (await stores.usage.entries(u, { after: 0, since: new Date(t0 - MIN) })).entries,
          [{ time: t0, tokens: 10 }],
        );
        const windowed = await stores.usage.entries(a, { after: 0, since: new Date(t0) });
        assert.deepEqual(windowed.entries, [{ time: t0 + 1000, tokens: 5 }]);
        const none = await stores.usage.entries(a, {
          after: all.cursor,
          since: new Date(t0 - MIN),
        });
        assert.deepEqual(none, { entries: [], cursor: all.cursor });
        await stores.usage.record([a], 7, new Date(t0 + 2000));
        const next = await stores.usage.entries(a, {
          after: all.cursor,
          since: new Date(t0 - MIN),
        });
        assert.deepEqual(next.entries, [{ time: t0 + 2000, tokens: 7 }]);
        assert.ok(next.cursor > all.cursor);
      });

      it('compacts away entries older than the given time, and only those', async () => {
        const a = unique('agent');
        // Far in the past, so compacting cannot touch what other runs on the database keep.
        const old = Date.UTC(1999, 0, 1);
        await stores.usage.record([a], 3, new Date(old));
        await stores.usage.record([a], 4, new Date(old + 10 * MIN));
        await stores.usage.compact(new Date(old + MIN));
        const r = await stores.usage.entries(a, { after: 0, since: new Date(0) });
        assert.deepEqual(r.entries, [{ time: old + 10 * MIN, tokens: 4 }]);
      });
    });

    describe('revocations', () => {
      it('tells every change after a cursor: tokens, agents revoked and reinstated', async () => {
        const start = (await stores.revocations.changes(0)).cursor;
        const jti = unique('jti');
        const agent = unique('agent');
        const t = Date.now();
        await stores.revocations.revokeToken(jti, new Date(t));
        await stores.revocations.revokeAgent(agent, new Date(t + 1));
        const c1 = await stores.revocations.changes(start);
        assert.ok(c1.tokens.includes(jti));
        assert.deepEqual(
          c1.agents.filter((a) => a.agent === agent),
          [{ agent, at: t + 1 }],
        );
        assert.ok(c1.cursor > start);
        const quiet = await stores.revocations.changes(c1.cursor);
        assert.equal(quiet.cursor, c1.cursor);
        assert.ok(!quiet.tokens.includes(jti));
        assert.ok(!quiet.agents.some((a) => a.agent === agent));

        assert.equal(await stores.revocations.reinstateAgent(agent, new Date(t + 2)), true);
        assert.equal(await stores.revocations.reinstateAgent(agent, new Date(t + 3)), false);
        const c2 = await stores.revocations.changes(c1.cursor);
        assert.deepEqual(
          c2.agents.filter((a) => a.agent === agent),
          [{ agent, at: t + 1, lifted: t + 2 }],
        );
        assert.ok(!c2.tokens.includes(jti));

        await stores.revocations.revokeAgent(agent, new Date(t + 4));
        const c3 = await stores.revocations.changes(c2.cursor);
        assert.deepEqual(
          c3.agents.filter((a) => a.agent === agent),
          [{ agent, at: t + 4 }],
        );
        const everything = await stores.revocations.changes(0);
        assert.ok(everything.tokens.includes(jti));
        assert.deepEqual(
          everything.agents.filter((a) => a.agent === agent),
          [{ agent, at: t + 4 }],
        );
      });

      it('reinstating an agent never revoked is false; revoking a token twice is harmless', async () => {
        assert.equal(await stores.revocations.reinstateAgent(unique('agent'), new Date()), false);
        const jti = unique('jti');
        await stores.revocations.revokeToken(jti, new Date());
        await stores.revocations.revokeToken(jti, new Date());
        const all = await stores.revocations.changes(0);
        assert.equal(all.tokens.filter((t) => t === jti).length, 1);
      });
    });

    describe('isolation', () => {
      const state = (agent: string, o: Partial<IsolationState> = {}): IsolationState => ({
        agent,
        measures: { readOnly: true },
        reason: 'test',
        by: 'alice',
        at: new Date().toISOString(),
        ...o,
      });
      const mine = async (agent: string, now = new Date()) =>
        (await stores.isolation.active(now))
          .filter((s) => s.agent === agent)
          .sort((x, y) => (isolationKey(x) < isolationKey(y) ? -1 : 1));

      it('keeps one state per scope (agent, agent+user, agent+session); a put replaces its scope', async () => {
        const agent = unique('agent');
        const whole = state(agent, { measures: { egress: 'none' }, decisionId: 'd-1' });
        const user = state(agent, { user: 'bob', measures: { revokedTools: ['erp/*'] } });
        const session = state(agent, { session: 's-9', measures: { full: true } });
        await stores.isolation.put(whole);
        await stores.isolation.put(user);
        await stores.isolation.put(session);
        assert.deepEqual(await mine(agent), [whole, session, user]);
        const replaced = state(agent, {
          reason: 'again',
          by: 'policy:p1',
          measures: { noDelegation: true },
        });
        await stores.isolation.put(replaced);
        assert.deepEqual(await mine(agent), [replaced, session, user]);
      });

      it('releases one scope; false when nothing was applied there', async () => {
        const agent = unique('agent');
        const user = state(agent, { user: 'bob' });
        const whole = state(agent);
        await stores.isolation.put(whole);
        await stores.isolation.put(user);
        assert.equal(await stores.isolation.release(isolationKey(user), new Date()), true);
        assert.equal(await stores.isolation.release(isolationKey(user), new Date()), false);
        assert.equal(
          await stores.isolation.release(isolationKey({ agent, session: 'never' }), new Date()),
          false,
        );
        assert.deepEqual(await mine(agent), [whole]);
        await stores.isolation.put(user);
        assert.equal((await mine(agent)).length, 2, 'applied again after a release');
      });

      it('leaves out states that have expired', async () => {
        const agent = unique('agent');
        const now = Date.now();
        const until = new Date(now + MIN).toISOString();
        await stores.isolation.put(state(agent, { until }));
        await stores.isolation.put(state(agent, { user: 'bob' }));
        assert.equal((await mine(agent, new Date(now))).length, 2);
        const later = await mine(agent, new Date(now + 2 * MIN));
        assert.deepEqual(
          later.map((s) => s.user),
          ['bob'],
        );
      });
    });

    describe('baselines', () => {
      it('writes with optimistic concurrency: of two writers on one version exactly one wins', async () => {
        const subject = unique('baseline');
        assert.equal(await stores.baselines.get(subject), undefined);
        assert.equal(await stores.baselines.put(subject, '{"v":1}', 0), true);
        assert.deepEqual(await stores.baselines.get(subject), { version: 1, data: '{"v":1}' });
        assert.equal(await stores.baselines.put(subject, '{"v":"late"}', 0), false, 'exists');
        const both = await Promise.all([
          stores.baselines.put(subject, '{"v":"a"}', 1),
          stores.baselines.put(subject, '{"v":"b"}', 1),
        ]);
        assert.equal(both.filter(Boolean).length, 1);
        const got = await stores.baselines.get(subject);
        assert.equal(got?.version, 2);
        assert.equal(got?.data, both[0] ? '{"v":"a"}' : '{"v":"b"}');
        assert.equal(await stores.baselines.put(subject, '{"v":3}', 5), false, 'wrong version');
      });

      it('two first writers: exactly one creates the baseline', async () => {
        const subject = unique('baseline');
        const both = await Promise.all([
          stores.baselines.put(subject, 'a', 0),
          stores.baselines.put(subject, 'b', 0),
        ]);
        assert.equal(both.filter(Boolean).length, 1);
        assert.equal((await stores.baselines.get(subject))?.version, 1);
      });

      it('lists subjects and deletes one', async () => {
        const a = unique('baseline');
        const b = unique('baseline');
        await stores.baselines.put(a, 'x', 0);
        await stores.baselines.put(b, 'y', 0);
        const subjects = await stores.baselines.subjects();
        assert.ok(subjects.includes(a) && subjects.includes(b));
        assert.equal(await stores.baselines.delete(a), true);
        assert.equal(await stores.baselines.delete(a), false);
        assert.equal(await stores.baselines.get(a), undefined);
        assert.ok(!(await stores.baselines.subjects()).includes(a));
        assert.equal(
          await stores.baselines.put(a, 'again', 0),
          true,
          'a deleted subject starts over',
        );
      });
    });

    describe('change bus', () => {
      /**
       * Publishes until a subscriber of this run hears it: a subscription over the network may
       * take a moment to start. Resolves with what the subscriber heard.
       */
      async function deliver(topic: ChangeTopic, message: string): Promise<string> {
        let stop = () => {};
        const heard = new Promise<string>((resolve) => {
          stop = stores.bus.subscribe(topic, (m) => {
            if (m === message) resolve(m);
          });
        });
        const tick = setInterval(
          () => void stores.bus.publish(topic, message).catch(() => {}),
          200,
        );
        try {
          await stores.bus.publish(topic, message);
          return await heard;
        } finally {
          clearInterval(tick);
          stop();
        }
      }

      it('a published message reaches a subscriber of its topic; unsubscribing stops it', async () => {
        const prefix = unique('msg');
        const seen: string[] = [];
        const unsubscribe = stores.bus.subscribe('isolation', (m) => {
          if (m.startsWith(prefix)) seen.push(m);
        });
        assert.equal(await deliver('isolation', `${prefix}-1`), `${prefix}-1`);
        assert.ok(seen.includes(`${prefix}-1`));
        assert.ok(!seen.includes(`${prefix}-r`));
        await deliver('revocation', `${prefix}-r`);
        assert.ok(!seen.includes(`${prefix}-r`), 'another topic is not heard');
        unsubscribe();
        const count = seen.length;
        await deliver('isolation', `${prefix}-2`);
        assert.equal(seen.length, count, 'nothing after unsubscribing');
      });
    });
  });
}
