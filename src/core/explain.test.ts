import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPolicyDir } from '../policy/load.js';
import { pinnedFacts, readTestFiles } from '../policy/test-runner.js';
import { agent, compileOk, engineFor, entities, EXAMPLE_POLICIES } from '../testing/fixtures.js';
import type { Engine } from './engine.js';
import { explainEvaluation, type PrincipalExplained } from './explain.js';
import type { ActionRequest, Decision } from './types.js';

async function explained(
  engine: Engine,
  request: ActionRequest,
  pinned?: Parameters<Engine['trace']>[1],
): Promise<{ decision: Decision; evaluations: PrincipalExplained[] }> {
  const evaluations: PrincipalExplained[] = [];
  const { decision } = await engine.trace(request, pinned, {
    observe: (input) => evaluations.push(explainEvaluation(input)),
  });
  return { decision, evaluations };
}

const policyOf = (e: PrincipalExplained, id: string) => {
  const p = e.policies.find((x) => x.policy === id);
  assert.ok(p, `policy ${id} is listed`);
  return p;
};

describe('policy explain', () => {
  const set = compileOk({
    'p.cedar': `
@id("tools")
permit(principal in Group::"ops", action == Action::"invokeTool", resource)
when { context.ticket == "ok" }
unless { context.frozen };

@id("others")
permit(principal in Group::"finance", action == Action::"invokeTool", resource);

@id("destructive")
forbid(principal, action == Action::"invokeTool", resource)
when { resource.destructive };

@id("reads")
permit(principal, action == Action::"readFile", resource);
`,
    'entities.json': entities([
      agent('a', [{ type: 'Group', id: 'ops' }]),
      { uid: { type: 'Group', id: 'ops' }, attrs: {}, parents: [] },
    ]),
  });
  const engine = engineFor(set);
  const request = (context: Record<string, unknown>): ActionRequest => ({
    pep: 'test',
    agent: 'a',
    action: 'invokeTool',
    resource: { type: 'Tool', id: 't' },
    context,
  });

  it('lists only the policies the action index offers, each scope part judged', async () => {
    const { evaluations } = await explained(engine, request({ ticket: 'ok', frozen: false }));
    assert.equal(evaluations.length, 1);
    const [e] = evaluations;
    assert.deepEqual(e!.policies.map((p) => p.policy).sort(), ['destructive', 'others', 'tools']);
    const others = policyOf(e!, 'others');
    assert.equal(others.result, 'scope-mismatch');
    assert.equal(others.scope.principal.matched, false);
    assert.equal(others.scope.principal.constraint, 'principal in Group::"finance"');
    assert.equal(others.scope.action.matched, true);
    assert.equal(others.scope.resource.constraint, 'resource');
  });

  it('says which condition held and which failed, reading unless the other way round', async () => {
    const { decision, evaluations } = await explained(
      engine,
      request({ ticket: 'ok', frozen: true }),
    );
    assert.equal(decision.decision, 'deny');
    const tools = policyOf(evaluations[0]!, 'tools');
    assert.equal(tools.result, 'not-satisfied');
    assert.deepEqual(
      tools.conditions.map((c) => [c.kind, c.text, c.result, c.value]),
      [
        ['when', 'context.ticket == "ok"', 'held', true],
        ['unless', 'context.frozen', 'failed', true],
      ],
    );
  });

  it('stops at the first condition that settles the policy, as Cedar does', async () => {
    const { evaluations } = await explained(engine, request({ ticket: 'no', frozen: 7 }));
    const tools = policyOf(evaluations[0]!, 'tools');
    assert.deepEqual(
      tools.conditions.map((c) => c.result),
      ['failed', 'not-evaluated'],
    );
  });

  it('reports the error of a condition Cedar cannot evaluate, and it matches the decision', async () => {
    const { decision, evaluations } = await explained(engine, request({ ticket: 'ok' }));
    const destructive = policyOf(evaluations[0]!, 'destructive');
    assert.equal(destructive.result, 'error');
    assert.match(destructive.conditions[0]!.error ?? '', /destructive/);
    // `context.frozen` is missing too: the permit errors on its unless.
    const tools = policyOf(evaluations[0]!, 'tools');
    assert.equal(tools.result, 'error');
    assert.deepEqual(decision.errors?.map((x) => x.policy).sort(), ['destructive', 'tools']);
    assert.equal(decision.decision, 'deny');
  });

  it('explains nothing when the request is settled before Cedar runs', async () => {
    const { decision, evaluations } = await explained(engine, {
      pep: 'test',
      agent: 'nobody-listed',
      token: 'not-a-token',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 't' },
    });
    assert.equal(decision.decision, 'deny');
    assert.deepEqual(evaluations, []);
  });

  it('agrees with every example test case: reasons are satisfied (or erroring) policies, errors are errors', async () => {
    const r = await loadPolicyDir(EXAMPLE_POLICIES);
    assert.ok(r.ok);
    const examples = engineFor(r.set);
    const { cases } = await readTestFiles(EXAMPLE_POLICIES);
    let checked = 0;
    for (const { c } of cases) {
      if (c.request.agent === undefined && c.request.token === undefined) continue;
      const { decision, evaluations } = await explained(
        examples,
        { ...c.request, pep: 'test', trustedFor: [c.request.resource.type] },
        pinnedFacts(c),
      );
      const byRole = new Map(evaluations.map((e) => [e.role, e]));
      for (const reason of decision.reasons) {
        if (reason.policy.startsWith('cordon/') || !reason.principal) continue;
        const e = byRole.get(reason.principal);
        assert.ok(e, `${c.name}: the ${reason.principal} was evaluated`);
        // A forbid that errors denies, and is the reason: explain says it errored.
        const errored = reason.message?.startsWith('forbid policy errored') ?? false;
        assert.equal(
          policyOf(e, reason.policy).result,
          errored ? 'error' : 'satisfied',
          `${c.name}: ${reason.policy}`,
        );
      }
      for (const e of evaluations) {
        const errored = e.policies
          .filter((p) => p.result === 'error' && !p.shadow && !p.waived)
          .map((p) => p.policy)
          .sort();
        const reported = (decision.errors ?? [])
          .filter((x) => x.principal === e.role)
          .map((x) => x.policy)
          .sort();
        assert.deepEqual(errored, reported, `${c.name}: errors of the ${e.role}`);
      }
      checked++;
    }
    assert.ok(checked > 20, `checked ${checked} cases`);
  });
});
