import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { ActionRequest } from '../core/types.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import type { BaselineStore } from '../store/ports.js';
import { agent, compileOk, engineFor, entities, EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { MemoryBaselineStore } from './baseline-memory-store.js';
import { BaselineService } from './baseline-service.js';
import { baselineLearner, baselineStage } from './baseline-stage.js';

const DAY = 86_400_000;
const example = (f: string) => readFile(join(EXAMPLE_POLICIES, f), 'utf8');

// The shipped schema and baseline policy; agents that may post anywhere, two of one class.
const set = compileOk({
  'schema.cedarschema': await example('schema.cedarschema'),
  'baselines.cedar': await example('baselines.cedar'),
  'permit.cedar': `@id("posters") permit (principal in Group::"posters", action, resource);`,
  'entities.json': entities([
    { uid: { type: 'Group', id: 'posters' }, attrs: {}, parents: [] },
    { uid: { type: 'AgentClass', id: 'support' }, attrs: {}, parents: [] },
    ...['veteran', 'newcomer', 'loner'].map((id) =>
      agent(
        id,
        [
          { type: 'Group', id: 'posters' },
          ...(id === 'loner' ? [] : [{ type: 'AgentClass', id: 'support' }]),
        ],
        { risk_level: 'low', owner: 'x' },
      ),
    ),
  ]),
});

/** One Cordon node: engine with the baseline stage, decision service that learns. */
function node(store: BaselineStore, clock: { now: number }) {
  const baselines = new BaselineService({
    store,
    clock: () => clock.now,
    minObservations: 5,
    params: { halfLifeMs: DAY },
    retryMs: 0,
  });
  const engine = engineFor(set, {
    stages: [baselineStage(baselines)],
    clock: () => new Date(clock.now),
  });
  const decisions = new DecisionService(engine, new Metrics(), pino({ level: 'silent' }));
  decisions.afterEffects.push(baselineLearner(baselines));
  return { baselines, decisions };
}

const post = (who: string, host: string): ActionRequest => ({
  agent: who,
  action: 'sendExternal',
  resource: { type: 'NetworkDestination', id: `${host}:443` },
});

async function teach(n: ReturnType<typeof node>, who: string, host: string, times: number) {
  for (let i = 0; i < times; i++)
    assert.equal((await n.decisions.decide(post(who, host))).decision, 'allow');
}

describe('baseline modes through the decision service', () => {
  it('learn mode never denies, not even a first-ever destination', async () => {
    const n = node(new MemoryBaselineStore(), { now: Date.UTC(2026, 0, 1) });
    for (const host of ['a.example', 'b.example', 'evil.example', 'a.example']) {
      const d = await n.decisions.decide(post('veteran', host));
      assert.equal(d.decision, 'allow');
    }
    const shown = await n.baselines.summary('veteran', []);
    assert.equal(shown.mode.mode, 'learn');
    assert.deepEqual(
      shown.dimensions.destination?.map((d) => d.item),
      ['a.example:443', 'b.example:443', 'evil.example:443'],
    );
  });

  it('monitor mode gives the facts but no denial', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const n = node(new MemoryBaselineStore(), clock);
    await teach(n, 'veteran', 'api.example', 10);
    await n.baselines.setMode('veteran', 'monitor', 'test');
    const trace = await n.decisions.engine.trace(post('veteran', 'evil.example'));
    assert.equal(trace.decision.decision, 'allow');
    assert.equal(trace.facts.baseline.mode, 'monitor');
    assert.equal(trace.facts.baseline.novel.destination, true);
    assert.equal(trace.facts.baseline.deviation, 100);
  });

  it('enforce mode and the shipped policy: a never-seen destination needs approval, a seen one is allowed', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const n = node(new MemoryBaselineStore(), clock);
    await teach(n, 'veteran', 'api.example', 10);
    await n.baselines.setMode('veteran', 'enforce', 'test');
    const seen = await n.decisions.decide(post('veteran', 'api.example'));
    assert.equal(seen.decision, 'allow');
    const novel = await n.decisions.decide(post('veteran', 'evil.example'));
    assert.equal(novel.decision, 'require_approval');
    assert.deepEqual(
      novel.reasons.map((r) => r.policy),
      ['novel-destination-needs-approval'],
    );
    // A refused (pending) action is not learned: it stays novel.
    const again = await n.decisions.decide(post('veteran', 'evil.example'));
    assert.equal(again.decision, 'require_approval');
  });

  it('a new agent of a known class starts from its class; one without a class starts empty', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const n = node(new MemoryBaselineStore(), clock);
    await teach(n, 'veteran', 'api.example', 10);
    await n.baselines.flush();
    for (const who of ['newcomer', 'loner']) await n.baselines.setMode(who, 'enforce', 'test');
    assert.equal((await n.decisions.decide(post('newcomer', 'api.example'))).decision, 'allow');
    assert.equal(
      (await n.decisions.decide(post('newcomer', 'evil.example'))).decision,
      'require_approval',
    );
    assert.equal(
      (await n.decisions.decide(post('loner', 'api.example'))).decision,
      'require_approval',
    );
  });

  it('two nodes on one store merge their counts', async () => {
    const store = new MemoryBaselineStore();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const a = node(store, clock);
    const b = node(store, clock);
    await teach(a, 'veteran', 'a-only.example', 7);
    await teach(b, 'veteran', 'b-only.example', 5);
    await teach(b, 'veteran', 'a-only.example', 3);
    // Both flush at once: one of them writes over a version the other just made, and retries.
    await Promise.all([a.baselines.flush(), b.baselines.flush()]);
    const merged = await node(store, clock).baselines.summary('veteran', []);
    const counts = Object.fromEntries(
      merged.dimensions.destination!.map((d) => [d.item, Math.round(d.count)]),
    );
    assert.deepEqual(counts, { 'a-only.example:443': 10, 'b-only.example:443': 5 });
    assert.equal(Math.round(merged.observations), 15);
    // The class learned from both nodes too.
    const cls = await a.baselines.current('class', 'support');
    assert.equal(Math.round(cls.observations(clock.now)), 15);
  });

  it('the mode persists in the store: another node (a restart) reads it', async () => {
    const store = new MemoryBaselineStore();
    const clock = { now: Date.UTC(2026, 0, 1) };
    await node(store, clock).baselines.setMode('veteran', 'enforce', 'cordon-admin');
    const restarted = node(store, clock);
    const m = await restarted.baselines.mode('veteran');
    assert.deepEqual([m.mode, m.by], ['enforce', 'cordon-admin']);
    const d = await restarted.decisions.decide(post('veteran', 'x.example'));
    assert.equal(d.decision, 'require_approval');
  });

  it('reset forgets what was learned and keeps the mode', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const n = node(new MemoryBaselineStore(), clock);
    await teach(n, 'loner', 'api.example', 3);
    await n.baselines.flush();
    await n.baselines.setMode('loner', 'enforce', 'test');
    assert.equal((await n.decisions.decide(post('loner', 'api.example'))).decision, 'allow');
    assert.equal(await n.baselines.reset('loner'), true);
    assert.equal(
      (await n.decisions.decide(post('loner', 'api.example'))).decision,
      'require_approval',
    );
    assert.equal((await n.baselines.summary('loner', [])).observations, 0);
    assert.equal((await n.baselines.mode('loner')).mode, 'enforce');
  });
});

describe('a baseline store that cannot be read fails closed', () => {
  class BrokenStore extends MemoryBaselineStore {
    broken = false;
    override get(subject: string) {
      if (this.broken) return Promise.reject(new Error('connection refused'));
      return super.get(subject);
    }
  }

  it('in enforce mode an agent whose baseline cannot be read is unbaselined: everything is novel', async () => {
    const store = new BrokenStore();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const first = node(store, clock);
    await teach(first, 'veteran', 'api.example', 10);
    await first.baselines.flush();
    await first.baselines.setMode('veteran', 'enforce', 'test');
    store.broken = true;
    // A node that has not read it yet (a restart) cannot: the mode reads as enforce and the
    // usual destination is novel.
    const cold = node(store, clock);
    const trace = await cold.decisions.engine.trace(post('veteran', 'api.example'));
    assert.equal(trace.facts.baseline.mode, 'enforce');
    assert.equal(trace.facts.baseline.novel.destination, true);
    assert.equal(trace.decision.decision, 'require_approval');
  });

  it('what a node learned while the store was down is written once it is back', async () => {
    const store = new BrokenStore();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const n = node(store, clock);
    await n.baselines.setMode('veteran', 'learn', 'test'); // known before the store went down
    store.broken = true;
    await teach(n, 'veteran', 'api.example', 4);
    await n.baselines.flush();
    store.broken = false;
    await n.baselines.flush();
    const stored = await node(store, clock).baselines.current('agent', 'veteran');
    assert.equal(Math.round(stored.observations(clock.now)), 4);
  });
});

describe('the cache of baselines', () => {
  it('beyond maxCached, baselines with nothing pending leave memory and are read again on need', async () => {
    const store = new MemoryBaselineStore();
    const clock = { now: Date.UTC(2026, 0, 1) };
    const svc = new BaselineService({ store, clock: () => clock.now, maxCached: 3, retryMs: 0 });
    for (const a of ['a1', 'a2', 'a3', 'a4', 'a5']) {
      svc.learn(a, [], { destination: [`${a}.example:443`] }, clock.now);
      await svc.flush();
    }
    assert.ok(svc.cached <= 3, `${svc.cached} cached`);
    await svc.setMode('a1', 'enforce', 'test');
    const seen = await svc.facts('a1', [], { destination: ['a1.example:443'] });
    const novel = await svc.facts('a1', [], { destination: ['a2.example:443'] });
    assert.equal(seen.novel.destination, false);
    assert.equal(novel.novel.destination, true);
  });
});
