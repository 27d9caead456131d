// Differential test: Cordon evaluates only the policies whose action, principal and resource
// scopes can match (and only the context keys they read). The official engine evaluating the
// whole set with every entity must agree on the decision, the determining policies and the
// erroring policies. Shadow policies (`@mode("shadow")`) change nothing of that; each one is
// reported exactly when the official engine, with that policy in force, cites it or reports it
// erroring, and with the outcome that engine gives then. Both of Cordon's engines are compared.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cedar } from './cedar.js';
import { compilePolicySet } from './compile.js';
import { Engine } from './engine.js';
import { sources } from '../testing/fixtures.js';

const AGENTS = ['a0', 'a1', 'a2'];
const GROUPS = ['G0', 'G1', 'G2'];
const TOOLS = ['t0', 't1', 't2'];
const SETS = ['S0', 'S1'];
const ACTIONS = ['act0', 'act1', 'act2'];

const pick = <T>(xs: T[]) => fc.constantFrom(...xs);

const principalScope = fc.oneof(
  fc.constant('principal'),
  pick(AGENTS).map((a) => `principal == Agent::"${a}"`),
  pick(GROUPS).map((g) => `principal in Group::"${g}"`),
  fc.constant('principal is Agent'),
  pick(GROUPS).map((g) => `principal is Agent in Group::"${g}"`),
);
const actionScope = fc.oneof(
  fc.constant('action'),
  pick(ACTIONS).map((a) => `action == Action::"${a}"`),
  fc
    .tuple(pick(ACTIONS), pick(ACTIONS))
    .map(([a, b]) => `action in [Action::"${a}", Action::"${b}"]`),
);
const resourceScope = fc.oneof(
  fc.constant('resource'),
  pick(TOOLS).map((t) => `resource == Tool::"${t}"`),
  pick(SETS).map((s) => `resource in ToolSet::"${s}"`),
  fc.constant('resource is Tool'),
);
const condition = fc.oneof(
  fc.constant('true'),
  fc.integer({ min: 0, max: 3 }).map((k) => `resource.n > ${k}`),
  fc.constant('resource.flag'),
  fc.integer({ min: 0, max: 3 }).map((k) => `context.x == ${k}`),
  fc.integer({ min: 0, max: 3 }).map((k) => `context has x && context.x < ${k}`),
  fc.integer({ min: 0, max: 3 }).map((k) => `principal.level >= ${k}`),
  fc.constant('context.y like "ok*"'),
);
const policy = fc
  .tuple(pick(['permit', 'forbid']), principalScope, actionScope, resourceScope, condition)
  .map(([effect, p, a, r, c]) => `${effect}(${p}, ${a}, ${r}) when { ${c} };`);

const parentsOf = (pool: string[], type: string) =>
  fc
    .subarray(pool, { maxLength: Math.min(2, pool.length) })
    .map((ids) => ids.map((id) => ({ type, id })));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const world = fc.record({
  agents: fc.tuple(
    ...AGENTS.map(() =>
      fc.record({
        parents: parentsOf(GROUPS, 'Group'),
        level: maybe(fc.integer({ min: 0, max: 3 })),
      }),
    ),
  ),
  // Cedar rejects cycles: a group's parents come only from later groups.
  groupParents: fc.tuple(...GROUPS.map((_, i) => parentsOf(GROUPS.slice(i + 1), 'Group'))),
  tools: fc.tuple(
    ...TOOLS.map(() =>
      fc.record({
        parents: parentsOf(SETS, 'ToolSet'),
        n: maybe(fc.integer({ min: 0, max: 4 })),
        flag: maybe(fc.boolean()),
      }),
    ),
  ),
  policies: fc.array(policy, { minLength: 1, maxLength: 14 }),
  shadows: fc.array(policy, { maxLength: 3 }),
  engine: pick(['compiled', 'wasm'] as const),
  requests: fc.array(
    fc.record({
      agent: pick(AGENTS),
      action: pick(ACTIONS),
      tool: pick(TOOLS),
      x: maybe(fc.integer({ min: 0, max: 3 })),
      y: maybe(pick(['ok-1', 'nope'])),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

describe('evaluating the matching subset equals evaluating the whole set', () => {
  it('agrees with cedar-wasm on decision, determining and erroring policies', async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const entities = [
          ...AGENTS.map((id, i) => ({
            uid: { type: 'Agent', id },
            attrs: defined({ level: w.agents[i]!.level }),
            parents: w.agents[i]!.parents,
          })),
          ...GROUPS.map((id, i) => ({
            uid: { type: 'Group', id },
            attrs: {},
            parents: w.groupParents[i]!,
          })),
          ...TOOLS.map((id, i) => ({
            uid: { type: 'Tool', id },
            attrs: defined({ n: w.tools[i]!.n, flag: w.tools[i]!.flag }),
            parents: w.tools[i]!.parents,
          })),
          ...SETS.map((id) => ({ uid: { type: 'ToolSet', id }, attrs: {}, parents: [] })),
        ];
        const text = [
          ...w.policies.map((p, i) => `@id("p${i}") ${p}`),
          ...w.shadows.map((p, i) => `@id("s${i}") @mode("shadow") ${p}`),
        ].join('\n');
        const compiled = compilePolicySet(
          sources({ 'p.cedar': text, 'entities.json': JSON.stringify(entities) }),
          { engine: w.engine },
        );
        assert.ok(compiled.ok);
        if (!compiled.ok) return;
        const set = compiled.set;
        const engine = new Engine({ policies: { current: () => set } });
        const staticPolicies = Object.fromEntries(w.policies.map((p, i) => [`p${i}`, p]));
        const isForbid = (id: string) =>
          (id.startsWith('p') ? w.policies : w.shadows)[Number(id.slice(1))]!.startsWith('forbid');
        const official = (policies: Record<string, string>, r: (typeof w.requests)[number]) => {
          const raw = cedar.isAuthorized({
            principal: { type: 'Agent', id: r.agent },
            action: { type: 'Action', id: r.action },
            resource: { type: 'Tool', id: r.tool },
            context: defined({ x: r.x, y: r.y }) as never,
            policies: { staticPolicies: policies },
            entities: entities as never,
          });
          assert.equal(raw.type, 'success');
          return raw.type === 'success' ? raw.response : undefined;
        };
        for (const r of w.requests) {
          const context = defined({ x: r.x, y: r.y });
          const expected = official(staticPolicies, r);
          if (!expected) return;
          const d = await engine.decide({
            agent: r.agent,
            action: r.action,
            resource: { type: 'Tool', id: r.tool },
            context,
          });
          // What each shadow policy would have done: the official engine with it in force.
          const wantShadow = w.shadows.flatMap((p, i) => {
            const id = `s${i}`;
            const withIt = official({ ...staticPolicies, [id]: p }, r);
            if (!withIt) return [];
            const errs = withIt.diagnostics.errors.map((e) => e.policyId);
            // Cordon's verdict cites the erroring forbids alone when there are any.
            const cited = errs.some(isForbid) ? [] : withIt.diagnostics.reason;
            if (!cited.includes(id) && !errs.includes(id)) return [];
            const wouldBe = errs.some(isForbid) || withIt.decision !== 'allow' ? 'deny' : 'allow';
            return [[id, wouldBe, wouldBe !== d.decision]];
          });
          assert.deepEqual(
            (d.shadow ?? []).map((x) => [x.policy, x.wouldBe, x.wouldChange]),
            wantShadow,
            'shadow policies',
          );
          const errored = expected.diagnostics.errors.map((e) => e.policyId).sort();
          assert.deepEqual(
            (d.errors ?? []).map((e) => e.policy).sort(),
            errored,
            'erroring policies',
          );
          const erroredForbid = errored.some(isForbid);
          const reasons = d.reasons.map((x) => x.policy);
          if (erroredForbid) {
            assert.equal(d.decision, 'deny'); // Cordon's rule on top of Cedar's
          } else if (expected.decision === 'allow') {
            assert.equal(d.decision, 'allow');
            assert.deepEqual(reasons, [...expected.diagnostics.reason].sort());
          } else {
            assert.equal(d.decision, 'deny');
            const want = expected.diagnostics.reason.length
              ? [...expected.diagnostics.reason].sort()
              : ['cordon/default-deny'];
            assert.deepEqual(reasons, want);
          }
          compared++;
        }
      }),
      { numRuns: 250 },
    );
    assert.ok(compared >= 250);
  });
});
