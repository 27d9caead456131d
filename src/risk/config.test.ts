// The `risk:` section of cordon.yaml: a file written for the tier table alone still loads as
// before, weights and the rest have defaults, and a misspelt signal or an out-of-range weight
// is an error naming the key (never a silent default).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../config/config.js';
import { DEFAULT_RISK_TIERS } from '../core/risk.js';
import { DEFAULT_WEIGHTS, riskSettings } from './config.js';

describe('risk configuration', () => {
  it('a tier table written before the risk engine loads unchanged, with the default weights', () => {
    const c = parseConfig({
      risk: {
        thresholds: { medium: 30, high: 60, critical: 80 },
        responses: { low: 'allow', medium: 'allow', high: 'require_approval', critical: 'isolate' },
      },
    });
    assert.deepEqual(c.risk.thresholds, { medium: 30, high: 60, critical: 80 });
    assert.equal(c.risk.responses.high, 'require_approval');
    assert.deepEqual(riskSettings(c.risk).weights, DEFAULT_WEIGHTS);
  });

  it('one response or threshold named alone keeps the others at their defaults', () => {
    const c = parseConfig({ risk: { responses: { medium: 'allow' }, thresholds: { high: 75 } } });
    assert.deepEqual(c.risk.responses, { ...DEFAULT_RISK_TIERS.responses, medium: 'allow' });
    assert.deepEqual(c.risk.thresholds, { ...DEFAULT_RISK_TIERS.thresholds, high: 75 });
  });

  it('no risk section: the default tier table and weights', () => {
    const c = parseConfig({});
    assert.deepEqual(c.risk.thresholds, DEFAULT_RISK_TIERS.thresholds);
    assert.deepEqual(c.risk.responses, DEFAULT_RISK_TIERS.responses);
    assert.equal(c.risk.reputation, undefined);
  });

  it('named weights replace their defaults; the others keep theirs', () => {
    const s = riskSettings(
      parseConfig({ risk: { weights: { 'content.injection': 80 }, fullAt: { denials: 2 } } }).risk,
    );
    assert.equal(s.weights['content.injection'], 80);
    assert.equal(s.weights['destination.reputation'], DEFAULT_WEIGHTS['destination.reputation']);
    assert.equal(s.fullAt.denials, 2);
  });

  it('a misspelt signal, a weight above 100 or an unknown key is an error naming it', () => {
    assert.throws(
      () => parseConfig({ risk: { weights: { 'content.injections': 50 } } }),
      (e: Error) => e instanceof ConfigError && /content\.injections/.test(e.message),
    );
    assert.throws(
      () => parseConfig({ risk: { weights: { 'content.injection': 150 } } }),
      (e: Error) => e instanceof ConfigError && /risk\.weights/.test(e.message),
    );
    assert.throws(
      () => parseConfig({ risk: { reputation: { path: 'x' } } }),
      (e: Error) => e instanceof ConfigError && /path/.test(e.message),
    );
  });
});
