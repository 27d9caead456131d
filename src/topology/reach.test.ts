import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import { readPolicySources } from '../policy/load.js';
import { EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { reach } from './reach.js';

async function engine(extra?: string): Promise<Engine> {
  const src = await readPolicySources(EXAMPLE_POLICIES);
  if (extra) src.policies.push({ file: 'extra.cedar', text: extra });
  const r = compilePolicySet(src);
  assert.ok(r.ok);
  return new Engine({ policies: { current: () => r.set } });
}

const salaries = { type: 'Tool', id: 'hr-db/read_salaries' };
const route = (p: { from: string; steps: { to: { id: string } }[] }) =>
  [p.from, ...p.steps.map((s) => s.to.id)].join(' > ');

describe('topology reach', () => {
  it("finds the public chatbot's route to HR data through the dmz", async () => {
    const r = await reach(await engine(), {
      from: ['public-chatbot'],
      to: salaries,
      maxDepth: 4,
      maxDecisions: 10_000,
    });
    assert.deepEqual(r.paths.map(route), [
      'public-chatbot > faq-agent > hr-agent > hr-db/read_salaries',
    ]);
  });

  it('answers unreachable when the customer behind the chain is evaluated too', async () => {
    const r = await reach(await engine(), {
      from: ['public-chatbot'],
      to: salaries,
      user: 'guest-42',
      maxDepth: 4,
      maxDecisions: 10_000,
    });
    assert.deepEqual(r.paths, []);
    assert.equal(r.truncated, false, 'the bounded search was exhausted');
  });

  it('answers unreachable when policy forbids the dmz → secure hop for chains from the public zone', async () => {
    const e = await engine(
      'forbid(principal, action == Action::"delegate", resource in Zone::"secure") when { context.delegation.chain.contains("public-chatbot") };',
    );
    const r = await reach(e, {
      from: ['public-chatbot'],
      to: salaries,
      maxDepth: 4,
      maxDecisions: 10_000,
    });
    assert.deepEqual(r.paths, []);
    const hr = await reach(e, {
      from: ['hr-agent'],
      to: salaries,
      maxDepth: 4,
      maxDecisions: 10_000,
    });
    assert.equal(hr.paths.length, 1, 'the HR agent itself still reaches it');
  });

  it('honours the depth limit in the policies and the search bound', async () => {
    const r = await reach(await engine(), {
      from: ['faq-agent'],
      maxDepth: 6,
      maxDecisions: 10_000,
    });
    assert.ok(
      r.paths.every((p) => p.steps.filter((s) => s.action === 'delegate').length <= 2),
      'no chain beyond three agents',
    );
    const cut = await reach(await engine(), { maxDepth: 4, maxDecisions: 5 });
    assert.equal(cut.truncated, true);
    assert.equal(cut.decisions, 5);
  });
});
