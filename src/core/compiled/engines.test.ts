// The two engines behind one Cordon: the example policy tests (with approvals, @outcome gates,
// erroring forbids, delegation) must come out the same under `compiled` and `wasm`, and the
// compiled engine must actually be the one deciding them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine } from '../engine.js';
import { loadPolicyDir } from '../../policy/load.js';
import { readTestFiles, runCase } from '../../policy/test-runner.js';
import { EXAMPLE_POLICIES } from '../../testing/fixtures.js';
import type { EngineKind } from './index.js';

async function runAll(engine: EngineKind) {
  const r = await loadPolicyDir(EXAMPLE_POLICIES, { engine });
  if (!r.ok) throw new Error('example policies do not compile');
  const decider = new Engine({ policies: { current: () => r.set } });
  const { cases, errors } = await readTestFiles(EXAMPLE_POLICIES);
  assert.deepEqual(errors, []);
  const results = [];
  for (const { file, c } of cases) {
    const res = await runCase(decider, file, c);
    const d = res.decision!;
    results.push({
      name: `${file}: ${res.name}`,
      passed: res.passed,
      decision: d.decision,
      reasons: d.reasons.map((x) => `${x.policy}/${x.principal ?? ''}`).sort(),
      obligations: d.obligations.map((o) => JSON.stringify(o)).sort(),
      errors: (d.errors ?? []).map((e) => `${e.policy}/${e.principal}`).sort(),
    });
  }
  return { results, set: r.set };
}

describe('engine compiled vs wasm', () => {
  it('gives identical results on every example policy test', async () => {
    const compiled = await runAll('compiled');
    const wasm = await runAll('wasm');
    assert.ok(compiled.results.length > 10, 'the examples have tests');
    assert.deepEqual(compiled.results, wasm.results);
    for (const r of compiled.results) assert.ok(r.passed, `${r.name} passes`);
    // Every example policy compiles, and no evaluation needed cedar-wasm.
    assert.deepEqual(compiled.set.fallbacks, []);
    assert.equal(compiled.set.runtimeFallbacks, 0);
    assert.equal(compiled.set.lastInternalError, undefined);
    assert.equal(wasm.set.engine, 'wasm');
  });
});
