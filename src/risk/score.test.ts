// The risk score signal by signal: each one raises the score by its weight times its strength,
// absent facts add nothing, and a malformed fact fails closed (score 100, failed) instead of
// being read as no risk.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { riskSettings } from './config.js';
import { ReputationList } from './reputation.js';
import { scoreOfSignals, scoreRisk, type RiskInput } from './score.js';

const quiet: RiskInput = {
  delegationDepth: 1,
  content: { pii: [], secrets: [], injection: 0 },
  labels: [],
  denials: 0,
  retried: false,
  approvalsDenied: 0,
  destinations: [],
};
const settings = riskSettings();
const score = (over: Partial<RiskInput>, rep?: ReputationList) =>
  scoreRisk({ ...quiet, ...over }, settings, rep);
const only = (over: Partial<RiskInput>, rep?: ReputationList) => {
  const r = score(over, rep);
  assert.equal(r.failed, undefined);
  return { score: r.score, names: r.signals.map((s) => s.name), signals: r.signals };
};

describe('risk signals', () => {
  it('an agent acting directly with nothing found scores 0 and lists no signal', () => {
    assert.deepEqual(only({}), { score: 0, names: [], signals: [] });
  });

  it("principal.riskLevel: the agent's rating (high: full weight, medium: half, unknown: half)", () => {
    assert.equal(only({ riskLevel: 'low' }).score, 0);
    assert.deepEqual(only({ riskLevel: 'high' }).signals, [
      { name: 'principal.riskLevel', value: 1, weight: 20 },
    ]);
    assert.equal(only({ riskLevel: 'medium' }).score, 10);
    assert.equal(only({ riskLevel: 'elevated' }).score, 10);
    assert.equal(only({ riskLevel: 50 }).score, 10);
  });

  it('delegation.depth: grows with the chain, full at five agents', () => {
    assert.equal(only({ delegationDepth: 1 }).score, 0);
    assert.equal(only({ delegationDepth: 3 }).score, 5);
    assert.equal(only({ delegationDepth: 9 }).score, 10);
  });

  it('token.age: grows with the time since the token was issued, full at an hour', () => {
    assert.equal(only({ tokenAgeSeconds: 0 }).score, 0);
    assert.deepEqual(only({ tokenAgeSeconds: 1800 }).signals, [
      { name: 'token.age', value: 0.5, weight: 5 },
    ]);
  });

  it('content.injection: the injection score over 100 of the weight (a likely injection is medium)', () => {
    const r = only({ content: { pii: [], secrets: [], injection: 92 } });
    assert.deepEqual(r.signals, [{ name: 'content.injection', value: 0.92, weight: 50 }]);
    assert.equal(r.score, 46);
  });

  it('content.secrets and content.pii name what was found', () => {
    const r = only({ content: { pii: ['email'], secrets: ['aws-access-key'], injection: 0 } });
    assert.deepEqual(r.signals, [
      { name: 'content.secrets', value: 1, weight: 15, detail: 'aws-access-key' },
      { name: 'content.pii', value: 0.5, weight: 10, detail: 'email' },
    ]);
    assert.equal(r.score, 20);
  });

  it('session.tainted: only labels in risk.taintedLabels count', () => {
    assert.equal(only({ labels: ['public', 'internal'] }).score, 0);
    assert.deepEqual(only({ labels: ['public', 'pii'] }).signals, [
      { name: 'session.tainted', value: 1, weight: 10, detail: 'pii' },
    ]);
  });

  it('session.denials and session.retry: refusals in the window, and asking again after one', () => {
    assert.equal(only({ denials: 2 }).score, 6);
    assert.equal(only({ denials: 40 }).score, 15);
    assert.deepEqual(only({ retried: true }).names, ['session.retry']);
  });

  it('baseline: deviation and rate (a percent of the usual) count in monitor and enforce only', () => {
    const b = { mode: 'enforce', deviation: 80, rateRatio: 300 };
    assert.deepEqual(only({ baseline: b }).signals, [
      { name: 'baseline.deviation', value: 0.8, weight: 35 },
      { name: 'baseline.rate', value: 0.5, weight: 10 },
    ]);
    assert.equal(only({ baseline: { ...b, mode: 'monitor' } }).score, 33);
    assert.equal(only({ baseline: { ...b, mode: 'learn' } }).score, 0);
    assert.equal(only({ baseline: { ...b, mode: 'off' } }).score, 0, 'no baselines kept');
    assert.equal(only({ baseline: undefined }).score, 0, 'no baseline: no signal');
    assert.equal(
      only({ baseline: { ...b, deviation: 0, rateRatio: 0 } }).score,
      0,
      'no usual rate yet',
    );
  });

  it('destination.reputation: a listed host, domain or range is high on its own', () => {
    const rep = ReputationList.parse('evil.example\n203.0.113.0/24\n') as ReputationList;
    assert.equal(only({ destinations: ['api.good.example'] }, rep).score, 0);
    const r = only({ destinations: ['api.good.example', 'c2.evil.example'] }, rep);
    assert.deepEqual(r.signals, [
      {
        name: 'destination.reputation',
        value: 1,
        weight: 70,
        detail: 'c2.evil.example (listed as evil.example)',
      },
    ]);
    assert.equal(only({ destinations: ['203.0.113.9'] }, rep).score, 70);
  });

  it('approval.denied: approvals people refused in the window', () => {
    assert.equal(only({ approvalsDenied: 1 }).score, 10);
    assert.equal(only({ approvalsDenied: 5 }).score, 20);
  });

  it('signals add up and the score is capped at 100; the recorded signals give the score back', () => {
    const r = only({
      riskLevel: 'high',
      content: { pii: [], secrets: ['x'], injection: 100 },
      retried: true,
      denials: 5,
    });
    assert.equal(r.score, 100);
    assert.equal(scoreOfSignals(r.signals), 100);
    const s = only({ riskLevel: 'medium', delegationDepth: 2, tokenAgeSeconds: 123 });
    assert.equal(scoreOfSignals(s.signals), s.score);
  });

  it('weights come from the configuration; a weight of 0 turns a signal off', () => {
    const custom = riskSettings({ weights: { 'content.injection': 0, 'principal.riskLevel': 60 } });
    const r = scoreRisk(
      { ...quiet, riskLevel: 'high', content: { pii: [], secrets: [], injection: 99 } },
      custom,
    );
    assert.deepEqual(r.signals, [{ name: 'principal.riskLevel', value: 1, weight: 60 }]);
  });
});

describe('risk signals fail closed', () => {
  it('a malformed fact makes the score 100 and names the signal, never 0', () => {
    const r = score({ baseline: { mode: 'enforce', deviation: 'low' } });
    assert.equal(r.score, 100);
    assert.equal(r.failed?.signal, 'baseline.deviation');
    assert.match(r.signals.at(-1)!.detail!, /deviation is not a number/);
  });

  it('a reputation lookup that throws fails the score', () => {
    const broken = {
      match(): string | undefined {
        throw new Error('list gone');
      },
    };
    const r = scoreRisk({ ...quiet, destinations: ['a.example'] }, settings, broken);
    assert.equal(r.score, 100);
    assert.equal(r.failed?.signal, 'destination.reputation');
  });

  it('a NaN injection score is a failure, not zero', () => {
    assert.equal(
      score({ content: { pii: [], secrets: [], injection: NaN } }).failed?.signal,
      'content.injection',
    );
  });
});
