// FailureReports: a decision takes a bounded number of failure reports; the counts kept are bounded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURES_PER_DECISION, FailureReports } from './failure-limit.js';

describe('FailureReports', () => {
  it('takes FAILURES_PER_DECISION reports for one decision and refuses the next', () => {
    const r = new FailureReports();
    for (let i = 0; i < FAILURES_PER_DECISION; i++) assert.equal(r.take('d1'), true);
    assert.equal(r.take('d1'), false);
    assert.equal(r.take('d1'), false);
    assert.equal(r.take('d2'), true, 'another decision has its own room');
  });

  it('keeps a bounded number of counts, dropping the oldest decision counted', () => {
    const r = new FailureReports(1, 3);
    for (const id of ['a', 'b', 'c']) assert.equal(r.take(id), true);
    assert.equal(r.take('a'), false);
    assert.equal(r.take('d'), true); // drops a
    assert.equal(r.take('b'), false, 'b is still counted');
    assert.equal(r.take('a'), true, 'a was dropped, after three other decisions');
  });
});
