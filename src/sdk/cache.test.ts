import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionRequest, Decision, Reason } from '../core/types.js';
import { cacheableFor, DecisionCache } from './cache.js';

const reason = (policy: string, annotations: Record<string, string> = {}): Reason => ({
  policy,
  effect: 'permit',
  annotations,
});

function decision(o: Partial<Decision> = {}): Decision {
  return {
    decision: 'allow',
    reasons: [reason('p', { cache_ttl: '30' })],
    obligations: [],
    risk: { score: 0, level: 'low' },
    policyVersion: 'sha256:x',
    decisionId: 'd1',
    ...o,
  };
}

const request = (input: unknown): ActionRequest => ({
  agent: 'a',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 't' },
  input,
});

describe('which decisions the SDK may reuse', () => {
  it('reuses a decision for the shortest time its determining policies allow', () => {
    assert.equal(cacheableFor(decision()), 30_000);
    const two = [reason('p', { cache_ttl: '30' }), reason('q', { cache_ttl: '5' })];
    assert.equal(cacheableFor(decision({ reasons: two })), 5_000);
    assert.equal(cacheableFor(decision({ decision: 'deny' })), 30_000);
  });

  it('never reuses one when a single determining policy does not say so', () => {
    assert.equal(
      cacheableFor(decision({ reasons: [reason('p', { cache_ttl: '30' }), reason('q')] })),
      0,
    );
    assert.equal(cacheableFor(decision({ reasons: [] })), 0);
  });

  it("never reuses Cordon's own decisions, approvals, errors or obligations other than redaction", () => {
    const marked = { cache_ttl: '30' };
    assert.equal(cacheableFor(decision({ reasons: [reason('cordon/default-deny', marked)] })), 0);
    assert.equal(cacheableFor(decision({ decision: 'require_approval' })), 0);
    assert.equal(cacheableFor(decision({ approval: { id: 'a', status: 'used' } })), 0);
    const errors = [{ policy: 'p', principal: 'agent' as const, message: 'boom' }];
    assert.equal(cacheableFor(decision({ errors })), 0);
    assert.equal(cacheableFor(decision({ obligations: [{ type: 'restrict' }] })), 0);
    const redact = { type: 'redact', targets: ['pii'], operator: 'replace' };
    assert.equal(cacheableFor(decision({ obligations: [redact] })), 30_000);
  });

  it('ignores a time that is not a whole number of seconds', () => {
    for (const bad of ['0', '-5', '1.5', 'soon', '', '30s', '9999999'])
      assert.equal(cacheableFor(decision({ reasons: [reason('p', { cache_ttl: bad })] })), 0, bad);
  });
});

describe('DecisionCache', () => {
  it('answers only the exact same request, until the time runs out', () => {
    let now = 0;
    const cache = new DecisionCache({ now: () => now });
    cache.put(request({ id: 1 }), decision());
    assert.ok(cache.get(request({ id: 1 })));
    assert.equal(cache.get(request({ id: 2 })), undefined);
    assert.equal(cache.get({ ...request({ id: 1 }), user: 'u' }), undefined);
    assert.equal(cache.get({ ...request({ id: 1 }), session: 's' }), undefined);
    now = 29_999;
    assert.ok(cache.get(request({ id: 1 })));
    now = 30_000;
    assert.equal(cache.get(request({ id: 1 })), undefined);
  });

  it('keys by content, not by key order', () => {
    const cache = new DecisionCache();
    cache.put(request({ a: 1, b: 2 }), decision());
    assert.ok(cache.get(request({ b: 2, a: 1 })));
  });

  it('caps the time at maxTtlMs and the size at maxEntries, least recently used out first', () => {
    let now = 0;
    const cache = new DecisionCache({ maxEntries: 2, maxTtlMs: 1_000, now: () => now });
    cache.put(request(1), decision());
    cache.put(request(2), decision());
    assert.ok(cache.get(request(1))); // 1 is now the most recently used
    cache.put(request(3), decision());
    assert.equal(cache.size, 2);
    assert.equal(cache.get(request(2)), undefined);
    assert.ok(cache.get(request(1)));
    now = 1_000;
    assert.equal(cache.get(request(3)), undefined);
  });

  it('keeps nothing a policy did not mark', () => {
    const cache = new DecisionCache();
    cache.put(request(1), decision({ reasons: [reason('p')] }));
    assert.equal(cache.size, 0);
  });
});
