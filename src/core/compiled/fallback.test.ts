// What the compiled engine does not decide itself goes to cedar-wasm, and says so: a policy it
// does not accept (a Long literal beyond 2^53, which policyToJson cannot carry exactly), and a
// request value it does not model (a fractional number, which Cedar rejects outright).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet } from '../compile.js';
import { Engine } from '../engine.js';
import { evaluate } from '../evaluate.js';
import { agent, entities, sources } from '../../testing/fixtures.js';
import type { EngineKind } from './index.js';

const FILES = {
  'p.cedar': `
@id("big") permit(principal, action == Action::"run", resource) when { context.n < 9223372036854775807 };
@id("small") permit(principal, action == Action::"read", resource) when { context.n < 10 };
`,
  'entities.json': entities([agent('a')]),
};

function engine(kind: EngineKind) {
  const r = compilePolicySet(sources(FILES), { engine: kind });
  if (!r.ok) throw new Error('policies do not compile');
  return { set: r.set, engine: new Engine({ policies: { current: () => r.set } }) };
}

const ask = (action: string, n: unknown) => ({
  agent: 'a',
  action,
  resource: { type: 'Tool', id: 't' },
  context: { n },
});

describe('compiled engine fallback to cedar-wasm', () => {
  it('reports a policy it does not accept and leaves it to cedar-wasm, with the same answer', async () => {
    const c = engine('compiled');
    const w = engine('wasm');
    assert.deepEqual(
      c.set.fallbacks.map((f) => f.policy),
      ['big'],
    );
    assert.match(c.set.fallbacks[0]!.reason, /literal/);
    assert.deepEqual(w.set.fallbacks, []);
    for (const n of [1, 2 ** 53 - 1]) {
      const a = await c.engine.decide(ask('run', n));
      const b = await w.engine.decide(ask('run', n));
      assert.equal(a.decision, 'allow');
      assert.deepEqual(a.reasons, b.reasons);
    }
  });

  it('hands a request with a value Cedar rejects to cedar-wasm, which denies it', async () => {
    const c = engine('compiled');
    const ok = await c.engine.decide(ask('read', 3));
    assert.equal(ok.decision, 'allow');
    assert.equal(c.set.runtimeFallbacks, 0);
    const frac = await c.engine.decide(ask('read', 1.5));
    assert.equal(frac.decision, 'deny');
    assert.equal(frac.reasons[0]?.policy, 'cordon/request-error');
    assert.equal(c.set.runtimeFallbacks, 1);
    const w = await engine('wasm').engine.decide(ask('read', 1.5));
    assert.deepEqual(frac.reasons, w.reasons);
  });

  it('fails closed: a bug in the compiled evaluator hands the decision to cedar-wasm', () => {
    const { set } = engine('compiled');
    const principal = set.store.get('Agent', 'a')!;
    const resource = { uid: { type: 'Tool', id: 't' }, attrs: {}, parents: [] };
    const action = { uid: { type: 'Action', id: 'read' }, attrs: {}, parents: [] };
    const subset = set.subsetFor('read', principal, resource);
    const bug = () => {
      throw new TypeError('compiled evaluator bug');
    };
    // The broken policy is skipped by neither engine: cedar-wasm decides, allowing n = 3 and
    // denying n = 30 as the policy says.
    subset.compiled = [{ id: 'small', effect: 'permit', test: bug, conditions: bug }];
    const input = {
      set,
      subset,
      role: 'agent' as const,
      principal,
      action,
      resource,
      approved: false,
    };
    assert.equal(evaluate({ ...input, context: { n: 3 } }).outcome, 'allow');
    assert.equal(evaluate({ ...input, context: { n: 30 } }).outcome, 'deny');
    assert.equal(set.runtimeFallbacks, 2);
    assert.equal(set.lastInternalError, 'compiled evaluator bug');
  });
});
