// Replay of risk: the recorded score, level and signals are pinned, so the tier table applies
// again; a record whose score was lowered below what its signals add up to does not reproduce,
// and a decision the tier table made under other responses says why it differs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../audit/record.js';
import { reevaluate } from '../audit/replay.js';
import { initialFacts } from '../core/pipeline.js';
import type { Risk } from '../core/types.js';
import { agent, compileOk, entities } from '../testing/fixtures.js';

const set = compileOk({
  'p.cedar': '@id("read-all") permit(principal, action == Action::"read", resource);',
  'entities.json': entities([agent('bot')]),
});

function record(risk: Risk, decision: AuditRecord['decision'], reasons: string[]): AuditRecord {
  return {
    v: 1,
    seq: 0,
    id: '01930000-0000-7000-8000-000000000000',
    time: '2026-12-03T12:00:00.000Z',
    pep: 'test',
    agent: 'bot',
    action: 'read',
    resource: { type: 'Doc', id: 'd' },
    facts: { ...initialFacts(undefined), risk },
    policyVersion: set.version,
    decision,
    reasons: reasons.map((policy) => ({
      policy,
      effect: policy.startsWith('cordon/') ? 'forbid' : 'permit',
    })),
    obligations: [],
    keyId: '',
  };
}

const injection = [{ name: 'content.injection', value: 0.9, weight: 50 }];

describe('replaying risk', () => {
  it('a medium score recorded with its signals needs approval again', async () => {
    const r = await reevaluate(
      record({ score: 45, level: 'medium', signals: injection }, 'require_approval', [
        'cordon/risk-tier',
      ]),
      set,
    );
    assert.equal(r.reproduces, true);
    assert.equal(r.decision, 'require_approval');
    assert.deepEqual(r.risk, { score: 45, level: 'medium', signals: injection });
  });

  it('a score lowered below what its signals add up to does not reproduce', async () => {
    const r = await reevaluate(
      record({ score: 5, level: 'low', signals: injection }, 'allow', ['read-all']),
      set,
    );
    assert.equal(r.reproduces, false);
    assert.match(r.caveat ?? '', /recorded risk score 5 is not what its signals add up to \(45\)/);
  });

  it('a decision made under other tier responses differs, and says the tier table decided', async () => {
    // Recorded by a server with `responses.medium: allow`.
    const r = await reevaluate(
      record({ score: 45, level: 'medium', signals: injection }, 'allow', ['read-all']),
      set,
    );
    assert.equal(r.reproduces, false);
    assert.equal(r.decision, 'require_approval');
    assert.match(r.caveat ?? '', /risk tier table decided \(risk 45, medium\)/);
  });
});
