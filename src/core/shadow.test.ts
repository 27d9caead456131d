// Shadow policies (`@mode("shadow")`): evaluated and reported with what they would have done,
// never part of the outcome, on both engines alike. A shadow forbid does not deny; a shadow
// permit does not allow; neither reaches the kernel compiler's policy selection or a listing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { compilePolicySet } from './compile.js';
import type { EngineKind } from './compiled/index.js';
import { Engine } from './engine.js';
import { agent, entities, sources, tempDir, user, writeTree } from '../testing/fixtures.js';

const POLICIES = `
@id("read-docs") permit(principal, action == Action::"read", resource);
@id("no-secrets") forbid(principal, action == Action::"read", resource == Doc::"secret");
@id("shadow-no-drafts") @mode("shadow")
forbid(principal, action == Action::"read", resource == Doc::"draft");
@id("shadow-write-docs") @mode("shadow")
permit(principal, action == Action::"write", resource) when { resource.open };
@id("shadow-gate-reports") @mode("shadow") @outcome("require_approval")
forbid(principal, action == Action::"read", resource == Doc::"report");
@id("shadow-broken") @mode("shadow")
forbid(principal, action == Action::"read", resource == Doc::"odd") when { resource.missing == 1 };
@id("shadow-no-secrets-either") @mode("shadow")
forbid(principal, action == Action::"read", resource == Doc::"secret");
@id("enforced-explicitly") @mode("enforce")
permit(principal == User::"ann", action == Action::"read", resource);
`;
const ENTITIES = entities([
  agent('bot'),
  user('ann'),
  { uid: { type: 'Doc', id: 'wiki' }, attrs: { open: true }, parents: [] },
]);

function engine(kind: EngineKind): Engine {
  const r = compilePolicySet(sources({ 'p.cedar': POLICIES, 'entities.json': ENTITIES }), {
    engine: kind,
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return new Engine({ policies: { current: () => r.set } });
}

for (const kind of ['compiled', 'wasm'] as const) {
  describe(`shadow policies (${kind} engine)`, () => {
    const e = engine(kind);
    const read = (id: string) =>
      e.decide({ agent: 'bot', action: 'read', resource: { type: 'Doc', id } });

    it('a shadow forbid does not deny, and is reported as the deny it would have been', async () => {
      const d = await read('draft');
      assert.equal(d.decision, 'allow');
      assert.deepEqual(
        d.reasons.map((r) => r.policy),
        ['read-docs'],
      );
      assert.deepEqual(d.shadow, [
        {
          policy: 'shadow-no-drafts',
          effect: 'forbid',
          principal: 'agent',
          wouldBe: 'deny',
          wouldChange: true,
        },
      ]);
    });

    it('a shadow permit does not allow, and is reported as the allow it would have been', async () => {
      const d = await e.decide({
        agent: 'bot',
        action: 'write',
        resource: { type: 'Doc', id: 'wiki' },
      });
      assert.equal(d.decision, 'deny');
      assert.deepEqual(
        d.reasons.map((r) => r.policy),
        ['cordon/default-deny'],
      );
      assert.deepEqual(d.shadow, [
        {
          policy: 'shadow-write-docs',
          effect: 'permit',
          principal: 'agent',
          wouldBe: 'allow',
          wouldChange: true,
        },
      ]);
    });

    it('a shadow policy that agrees with the outcome is reported as changing nothing', async () => {
      const d = await read('secret');
      assert.equal(d.decision, 'deny');
      assert.deepEqual(
        d.shadow?.map((s) => [s.policy, s.wouldBe, s.wouldChange]),
        [['shadow-no-secrets-either', 'deny', false]],
      );
    });

    it('a shadow approval gate would have asked for approval', async () => {
      const d = await read('report');
      assert.equal(d.decision, 'allow');
      assert.deepEqual(
        d.shadow?.map((s) => [s.policy, s.wouldBe, s.wouldChange]),
        [['shadow-gate-reports', 'require_approval', true]],
      );
    });

    it('a shadow forbid that errors would have denied (Cordon denies on an erroring forbid)', async () => {
      const d = await read('odd');
      assert.equal(d.decision, 'allow');
      assert.equal(d.errors, undefined, 'the shadow error is not an error of the decision');
      assert.deepEqual(
        d.shadow?.map((s) => [s.policy, s.wouldBe, s.wouldChange]),
        [['shadow-broken', 'deny', true]],
      );
    });

    it('a request no shadow policy applies to carries no shadow field', async () => {
      const d = await read('wiki');
      assert.equal(d.decision, 'allow');
      assert.equal('shadow' in d, false);
    });

    it('the on-behalf-of user is evaluated in shadow too', async () => {
      const d = await e.decide({
        agent: 'bot',
        user: 'ann',
        action: 'read',
        resource: { type: 'Doc', id: 'draft' },
      });
      assert.equal(d.decision, 'allow');
      assert.deepEqual(
        d.shadow?.map((s) => [s.policy, s.principal, s.wouldBe]),
        [
          ['shadow-no-drafts', 'agent', 'deny'],
          ['shadow-no-drafts', 'user', 'deny'],
        ],
      );
    });

    it('a listing (input unknown) evaluates no shadow policy', async () => {
      const t = await e.trace(
        { agent: 'bot', action: 'write', resource: { type: 'Doc', id: 'wiki' } },
        undefined,
        { unknownInput: true },
      );
      assert.equal(t.decision.decision, 'deny');
      assert.equal(t.decision.shadow, undefined);
    });
  });
}

describe('shadow policies in the policy set', () => {
  it('are left out of the policies in force (what the kernel compiler and listings select)', () => {
    const r = compilePolicySet(sources({ 'p.cedar': POLICIES, 'entities.json': ENTITIES }));
    assert.ok(r.ok);
    assert.deepEqual(
      r.set.policiesFor('read').map((p) => p.id),
      ['read-docs', 'no-secrets', 'enforced-explicitly'],
    );
  });

  it('@mode takes enforce or shadow; anything else is an error with its place', () => {
    const r = compilePolicySet(
      sources({ 'p.cedar': '@id("x") @mode("dry-run") permit(principal, action, resource);' }),
    );
    assert.ok(!r.ok);
    assert.match(
      r.errors[0]!.message,
      /@mode\("dry-run"\) on policy "x": expected one of enforce, shadow/,
    );
    assert.equal(r.errors[0]!.line, 1);
  });

  it('cordon policy validate names the shadow policies', async () => {
    const dir = await tempDir('cordon-shadow-');
    await writeTree(dir, { 'p.cedar': POLICIES, 'entities.json': ENTITIES });
    const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    const run = spawnSync(process.execPath, [cli, 'policy', 'validate', dir], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      run.stdout,
      /shadow \(evaluated and reported, never deciding\): shadow-no-drafts, shadow-write-docs, shadow-gate-reports, shadow-broken, shadow-no-secrets-either/,
    );
  });
});
