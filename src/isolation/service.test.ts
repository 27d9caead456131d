import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';
import { openPostgresStores } from '../store/postgres/index.js';
import { serviceSkips, TEST_POSTGRES, TEST_REDIS, throwawaySchema } from '../testing/services.js';
import { tempDir } from '../testing/fixtures.js';
import { isolationKey } from '../store/ports.js';
import {
  IsolationError,
  IsolationService,
  type IsolationChange,
  type IsolationServiceOptions,
} from './service.js';
import { SqliteIsolationStore } from '../store/sqlite/isolation.js';
import { LocalChangeBus } from '../store/sqlite/bus.js';

const known = new Set(['bot', 'other-bot']);
const open = (o: Partial<IsolationServiceOptions> & Pick<IsolationServiceOptions, 'store'>) =>
  IsolationService.open({ knownAgent: (a) => known.has(a), ...o });

const base = { agent: 'bot', reason: 'suspicious egress', by: 'alice' };

describe('isolation service: state per agent, user and session', () => {
  it('applies an agent-wide state to every user and session of the agent, and no other agent', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const s = await open({ store });
    await s.apply({ ...base, measures: { egress: 'none' } });
    const now = new Date();
    assert.equal(s.statesFor('bot', undefined, undefined, now).length, 1);
    assert.equal(s.statesFor('bot', 'carol', 's9', now).length, 1);
    assert.equal(s.statesFor('other-bot', undefined, undefined, now).length, 0);
    s.close();
    store.close();
  });

  it('narrows a state to one user or one session', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const s = await open({ store });
    await s.apply({ ...base, user: 'carol', measures: { readOnly: true } });
    await s.apply({ ...base, session: 's1', measures: { revokedTools: ['gh/push'] } });
    const now = new Date();
    assert.equal(s.statesFor('bot', 'carol', undefined, now).length, 1);
    assert.equal(s.statesFor('bot', 'dave', undefined, now).length, 0);
    assert.equal(s.statesFor('bot', 'dave', 's1', now).length, 1);
    assert.equal(s.statesFor('bot', 'carol', 's1', now).length, 2);
    s.close();
    store.close();
  });

  it('refuses to isolate an agent that is not in entities.json, and one without a reason', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const s = await open({ store });
    await assert.rejects(
      s.apply({ ...base, agent: 'ghost', measures: { full: true } }),
      (e: unknown) =>
        e instanceof IsolationError && e.status === 404 && /unknown agent "ghost"/.test(e.message),
    );
    await assert.rejects(
      s.apply({ ...base, reason: '  ', measures: { full: true } }),
      /needs a reason/,
    );
    await assert.rejects(s.apply({ ...base, measures: {} }), /must take something away/);
    await assert.rejects(s.release({ agent: 'ghost' }, 'alice'), /unknown agent/);
    await assert.rejects(
      s.release({ agent: 'bot' }, 'alice'),
      (e: unknown) => e instanceof IsolationError && e.status === 404,
    );
    s.close();
    store.close();
  });

  it('releases every scope of the agent, or only the one named', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const s = await open({ store });
    await s.apply({ ...base, measures: { egress: 'none' } });
    await s.apply({ ...base, user: 'carol', measures: { readOnly: true } });
    const one = await s.release({ agent: 'bot', user: 'carol' }, 'alice');
    assert.deepEqual(
      one.map((x) => x.user),
      ['carol'],
    );
    assert.equal(s.list('bot').length, 1);
    await s.apply({ ...base, session: 's1', measures: { readOnly: true } });
    const all = await s.release({ agent: 'bot' }, 'alice', 'false alarm');
    assert.equal(all.length, 2);
    assert.deepEqual(s.list(), []);
    s.close();
    store.close();
  });

  it('adds a response to what the scope has, and writes nothing when it is covered already', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const changes: IsolationChange[] = [];
    const s = await open({ store, record: async (c) => void changes.push(c) });
    await s.apply({ ...base, measures: { revokedTools: ['gh/push'] } });
    const merged = await s.restrict({
      agent: 'bot',
      measures: { egress: 'none', noDelegation: true },
      reason: 'policy p refused x',
      by: 'policy:p',
    });
    assert.deepEqual(merged?.measures, {
      revokedTools: ['gh/push'],
      egress: 'none',
      noDelegation: true,
    });
    assert.equal(merged?.by, 'alice, policy:p');
    const again = await s.restrict({
      agent: 'bot',
      measures: { egress: 'none' },
      reason: 'policy p refused y',
      by: 'policy:p',
    });
    assert.equal(again, undefined);
    assert.equal(changes.length, 2);
    s.close();
    store.close();
  });
});

describe('isolation service: persistence, other nodes, expiry, failure', () => {
  it('keeps its states across a restart', async () => {
    const dir = await tempDir();
    const first = new SqliteIsolationStore(dir);
    const a = await open({ store: first });
    await a.apply({ ...base, measures: { full: true } });
    a.close();
    first.close();
    const second = new SqliteIsolationStore(dir);
    const b = await open({ store: second });
    const states = b.statesFor('bot', undefined, undefined, new Date());
    assert.equal(states.length, 1);
    assert.equal(states[0]?.measures.full, true);
    assert.equal(states[0]?.reason, 'suspicious egress');
    b.close();
    second.close();
  });

  it('another instance on the same store sees an apply and a release through the bus', async () => {
    const dir = await tempDir();
    const bus = new LocalChangeBus();
    const storeA = new SqliteIsolationStore(dir);
    const storeB = new SqliteIsolationStore(dir);
    // A refresh period far beyond the test: only the bus can bring the change.
    const a = await open({ store: storeA, bus, refreshMs: 3_600_000 });
    const b = await open({ store: storeB, bus, refreshMs: 3_600_000 });
    const seen = new EventEmitter();
    b.onChange((c) => seen.emit(c.kind, c));
    const applied = once(seen, 'applied');
    await a.apply({ ...base, measures: { egress: 'none' } });
    const [c] = (await applied) as [IsolationChange];
    assert.equal(c.state.agent, 'bot');
    assert.equal(b.statesFor('bot', undefined, undefined, new Date()).length, 1);
    const released = once(seen, 'released');
    await a.release({ agent: 'bot' }, 'alice');
    await released;
    assert.equal(b.statesFor('bot', undefined, undefined, new Date()).length, 0);
    a.close();
    b.close();
    storeA.close();
    storeB.close();
  });

  it('another instance without a bus sees the change on its periodic refresh', async () => {
    const dir = await tempDir();
    const storeA = new SqliteIsolationStore(dir);
    const storeB = new SqliteIsolationStore(dir);
    const a = await open({ store: storeA });
    const b = await open({ store: storeB, refreshMs: 50 });
    const applied = new Promise<IsolationChange>((r) => b.onChange(r));
    // The refresh timer does not hold the process open (unref): the test does, meanwhile.
    const hold = setInterval(() => {}, 1000);
    await a.apply({ ...base, measures: { readOnly: true } });
    assert.equal((await applied).kind, 'applied');
    clearInterval(hold);
    a.close();
    b.close();
    storeA.close();
    storeB.close();
  });

  it('a response on one node keeps what another node applied a moment before (read before write)', async () => {
    const dir = await tempDir();
    const [storeA, storeB] = [new SqliteIsolationStore(dir), new SqliteIsolationStore(dir)];
    // No bus, no refresh within the test: node A's cache does not know of B's isolation.
    const a = await open({ store: storeA, refreshMs: 3_600_000 });
    const b = await open({ store: storeB, refreshMs: 3_600_000 });
    await b.apply({ ...base, measures: { revokedTools: ['gh/push'] } });
    const merged = await a.restrict({
      agent: 'bot',
      measures: { egress: 'none' },
      reason: 'policy p',
      by: 'policy:p',
    });
    assert.deepEqual(merged?.measures, { revokedTools: ['gh/push'], egress: 'none' });
    a.close();
    b.close();
    storeA.close();
    storeB.close();
  });

  it('stops applying a state at its until, and records its expiry', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const store = new SqliteIsolationStore(await tempDir());
    const recorded: IsolationChange[] = [];
    const s = await open({
      store,
      clock: () => now,
      refreshMs: 3_600_000,
      record: async (c) => void recorded.push(c),
    });
    await s.apply({
      ...base,
      measures: { egress: 'none' },
      until: new Date('2026-01-01T00:30:00Z'),
    });
    assert.equal(s.statesFor('bot', undefined, undefined, now).length, 1);
    now = new Date('2026-01-01T00:30:00Z');
    // Before any refresh: the lookup itself checks the time.
    assert.equal(s.statesFor('bot', undefined, undefined, now).length, 0);
    await s.refresh();
    assert.deepEqual(
      recorded.map((c) => c.kind),
      ['applied', 'expired'],
    );
    assert.deepEqual(s.list(), []);
    s.close();
    store.close();
  });

  it('refuses to start when the store cannot be read', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    store.close();
    await assert.rejects(
      open({ store }),
      /isolation store cannot be read, so nothing can be decided/,
    );
  });

  it('keeps applying what it read when the store fails later, and says so in its health', async () => {
    const store = new SqliteIsolationStore(await tempDir());
    const s = await open({ store });
    await s.apply({ ...base, measures: { full: true } });
    store.close();
    await s.refresh();
    assert.match(s.health(), /cannot be read \(the last states read stay applied\)/);
    assert.equal(s.statesFor('bot', undefined, undefined, new Date()).length, 1);
    s.close();
  });

  it('keys a state by agent, user and session', () => {
    assert.notEqual(
      isolationKey({ agent: 'a', user: 'b' }),
      isolationKey({ agent: 'a', session: 'b' }),
    );
  });
});

describe('isolation service on PostgreSQL: two nodes', async () => {
  const skips = await serviceSkips();
  const schema = throwawaySchema('isolation');
  after(() => schema.drop());

  for (const [label, storage, skip] of [
    ['notifications by NOTIFY', { postgres: TEST_POSTGRES }, skips.postgres],
    [
      'notifications by Redis',
      { postgres: TEST_POSTGRES, redis: TEST_REDIS },
      skips.postgresAndRedis,
    ],
  ] as const)
    it(`another node hears an apply and a release (${label}), and a restart keeps the state`, async (t) => {
      if (skip) return t.skip(skip);
      const s1 = await openPostgresStores(storage, { schema: schema.name });
      const s2 = await openPostgresStores(storage, { schema: schema.name });
      // A refresh period far beyond the test: only the bus can bring the change.
      const a = await open({ store: s1.isolation, bus: s1.bus, refreshMs: 3_600_000 });
      const b = await open({ store: s2.isolation, bus: s2.bus, refreshMs: 3_600_000 });
      try {
        const seen = new EventEmitter();
        b.onChange((c) => seen.emit(c.kind, c));
        const applied = once(seen, 'applied');
        await a.apply({ ...base, measures: { readOnly: true } });
        await applied;
        assert.equal(b.statesFor('bot', undefined, undefined, new Date()).length, 1);
        b.close();
        const restarted = await open({ store: s2.isolation, bus: s2.bus, refreshMs: 3_600_000 });
        assert.equal(restarted.statesFor('bot', undefined, undefined, new Date()).length, 1);
        const released = new Promise<IsolationChange>((r) => restarted.onChange(r));
        await a.release({ agent: 'bot' }, 'alice');
        assert.equal((await released).kind, 'released');
        assert.equal(restarted.statesFor('bot', undefined, undefined, new Date()).length, 0);
        restarted.close();
      } finally {
        a.close();
        b.close();
        await s1.close();
        await s2.close();
      }
    });
});
