// The compiled evaluator against cedar-wasm on generated policies, entities and requests.
// Each world is one policy set and entity store with up to 25 requests, each with its own
// slice of the store; see differential.ts. `npm run fuzz:cedar` runs the same for longer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkWorld, formatCoverage, newCoverage, world, type Mismatch } from './differential.js';

const WORLDS = Number(process.env.CEDAR_DIFF_WORLDS ?? 8000);

describe('compiled evaluator vs cedar-wasm (differential)', () => {
  it('agrees on decision, determining and erroring policies', () => {
    const cov = newCoverage();
    let mismatch: Mismatch | undefined;
    fc.assert(
      fc.property(world, (w) => {
        mismatch = checkWorld(w, cov);
        return mismatch === undefined;
      }),
      { numRuns: WORLDS, seed: 20261121 },
    );
    assert.equal(mismatch, undefined);
    process.stdout.write(`${formatCoverage(cov)}\n`);
    // The generator must reach the compiled path, not only the fallbacks.
    assert.ok(cov.allow > 0 && cov.deny > 0 && cov.withErrors > 0);
    assert.ok(cov.requestFallbacks < cov.cases / 2);
  });
});
