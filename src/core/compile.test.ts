import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet, policyVersion } from './compile.js';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileOk, sources, tempDir } from '../testing/fixtures.js';
import { CORDON_CLI } from '../testing/mcp.js';
import { formatLocated } from './source-location.js';

const errorsOf = (files: Record<string, string>) => {
  const r = compilePolicySet(sources(files));
  assert.equal(r.ok, false, 'expected the set to be rejected');
  return r.ok ? [] : r.errors.map(formatLocated);
};

describe('compilePolicySet', () => {
  it('locates a syntax error as file:line:col', () => {
    const errs = errorsOf({
      'a.cedar': 'permit(principal, action, resource);\n\nforbid(principal, action resource);\n',
    });
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /^a\.cedar:3:26 .*unexpected token `resource`/);
  });

  it('locates schema violations and names the policy by its @id', () => {
    const errs = errorsOf({
      'schema.cedarschema':
        'entity Agent { risk: String }; entity Tool; action go appliesTo { principal: Agent, resource: Tool };',
      'p.cedar':
        '@id("ok") permit(principal, action, resource);\n@id("typo")\npermit(principal, action, resource)\n  when { principal.rsk == "low" };\n',
    });
    assert.equal(errs.length, 1);
    assert.match(
      errs[0]!,
      /^p\.cedar:4:10 for policy "typo", attribute `rsk` on entity type `Agent` not found/,
    );
  });

  it('locates a schema syntax error in the schema file', () => {
    const errs = errorsOf({
      'schema.cedarschema': 'entity Agent {\n  risk: Strin\n};\nentity ;',
      'p.cedar': '',
    });
    assert.ok(
      errs.some((e) => /^schema\.cedarschema:\d+:\d+ /.test(e)),
      errs.join('\n'),
    );
  });

  it('rejects duplicate policy ids, pointing at the second one', () => {
    const errs = errorsOf({
      'a.cedar': '@id("same") permit(principal, action, resource);',
      'b.cedar': '\n@id("same") forbid(principal, action, resource);',
    });
    assert.deepEqual(errs, ['b.cedar:2:1 duplicate policy id "same" (first in a.cedar)']);
  });

  it('rejects templates and unknown @outcome values', () => {
    assert.match(
      errorsOf({ 't.cedar': 'permit(principal == ?principal, action, resource);' })[0]!,
      /templates .* not supported/,
    );
    assert.match(
      errorsOf({ 'o.cedar': '@outcome("maybe") forbid(principal, action, resource);' })[0]!,
      /^o\.cedar:1:1 @outcome\("maybe"\).*expected one of require_approval, restrict, isolate/,
    );
  });

  it('reports invalid entities.json with a location', () => {
    assert.match(
      errorsOf({ 'entities.json': '[{"uid": {"type": "Agent", "id": "a"},}]' })[0]!,
      /^entities\.json:1:\d+ invalid JSON/,
    );
    assert.match(
      errorsOf({ 'entities.json': '[{"uid": {"type": "Agent"}}]' })[0]!,
      /entity \[0\] uid: expected an entity reference/,
    );
    assert.match(
      errorsOf({
        'schema.cedarschema': 'entity Agent { risk: String };',
        'entities.json':
          '[{"uid": {"type": "Agent", "id": "a"}, "attrs": {"risk": 3}, "parents": []}]',
      })[0]!,
      /^entities\.json .*risk/,
    );
  });

  it('gives unnamed policies stable ids in file order, also past ten policies', () => {
    // Cedar sorts a file's policies as strings (policy10 before policy2); ids must follow the file.
    const text = Array.from(
      { length: 12 },
      (_, i) => `permit(principal, action == Action::"a${i}", resource);`,
    ).join('\n');
    const set = compileOk({ 'many.cedar': text });
    for (let i = 0; i < 12; i++) {
      const p = set.policies.get(`many.cedar#${i}`);
      assert.ok(p, `many.cedar#${i} missing`);
      assert.match(p.text, new RegExp(`Action::"a${i}"`));
    }
  });

  it('changes the version when any source changes, and only then', () => {
    const a = policyVersion(
      sources({ 'a.cedar': 'permit(principal, action, resource);', 'entities.json': '[]' }),
    );
    const same = policyVersion(
      sources({ 'entities.json': '[]', 'a.cedar': 'permit(principal, action, resource);' }),
    );
    const b = policyVersion(
      sources({ 'a.cedar': 'permit(principal, action, resource);', 'entities.json': '[ ]' }),
    );
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a, same);
    assert.notEqual(a, b);
  });

  it('indexes policies by action so a bucket holds only what can apply', () => {
    const set = compileOk({
      'p.cedar': [
        'permit(principal, action == Action::"read", resource);',
        'permit(principal, action in [Action::"read", Action::"write"], resource);',
        'permit(principal, action == Action::"write", resource);',
        'forbid(principal, action, resource) when { false };',
      ].join('\n'),
    });
    assert.equal(set.policiesFor('read').length, 3);
    assert.equal(set.policiesFor('write').length, 3);
    assert.equal(
      set.policiesFor('other').length,
      1,
      'an action no policy names gets only the unconstrained ones',
    );
  });
});

describe('large policy sets', () => {
  it('loads 8,000 policies without the process aborting (a V8 deoptimizer bug on Node 20)', async () => {
    const dir = await tempDir('cordon-large-');
    const text = Array.from(
      { length: 8000 },
      (_, i) =>
        `@id("p${i}")\npermit (principal == Agent::"a${i % 50}", action == Action::"invokeTool", resource == Tool::"t${i}")\nwhen { context.delegation.depth <= ${(i % 5) + 1} };\n`,
    ).join('\n');
    await writeFile(join(dir, 'large.cedar'), text);
    // In a child: the bug aborts the whole process, which a test in this process could not report.
    const r = spawnSync(process.execPath, [CORDON_CLI, 'policy', 'validate', dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr.slice(0, 500));
    assert.match(r.stdout, /valid: 8000 policies/);
    // The 50 unlisted agents it names are warned about a screenful at a time, not 8,000 lines.
    assert.match(r.stderr, /… and \d+ more entity references nothing provides/);
    assert.ok(r.stderr.split('\n').length < 30, 'warnings are capped');
  });
});
