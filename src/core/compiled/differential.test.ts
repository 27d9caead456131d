// The compiled evaluator against cedar-wasm on generated policies, entities and requests
// (differential.ts). CI compares at least 100,000 requests; `npm run fuzz:cedar` runs longer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCoverage, runDifferential } from './differential.js';

const CASES = Number(process.env.CEDAR_DIFF_CASES ?? 100_000);

describe('compiled evaluator vs cedar-wasm (differential)', () => {
  it('agrees on decision, determining and erroring policies', () => {
    const r = runDifferential(CASES, 20261121);
    process.stdout.write(
      `${formatCoverage(r.cov)}\n${Math.round(r.cov.cases / (r.ms / 1000))} cases/s\n`,
    );
    assert.equal(r.failure, undefined, JSON.stringify(r.failure, null, 1));
    // The generator must reach the compiled path and its interesting outcomes, not only fallbacks.
    const c = r.cov;
    assert.ok(c.allow > 0 && c.deny > 0 && c.withErrors > 0 && c.determiningForbid > 0);
    assert.ok(c.requestFallbacks < c.cases / 4, 'most requests are decided by the compiled engine');
  });
});
