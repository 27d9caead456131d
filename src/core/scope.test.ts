import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cedar } from './cedar.js';
import { contextKeysRead, scopeMatches } from './scope.js';

const json = (text: string) => {
  const r = cedar.policyToJson(text);
  if (r.type !== 'success') throw new Error(r.errors[0]?.message);
  return r.json;
};

const agent = {
  uid: { type: 'Agent', id: 'a' },
  parents: [
    { type: 'Group', id: 'g' },
    { type: 'Org', id: 'o' },
  ],
};

describe('scopeMatches', () => {
  const principalScope = (scope: string) => json(`permit(${scope}, action, resource);`).principal;
  it('follows ==, in (through the ancestor closure), is, and is … in', () => {
    assert.equal(scopeMatches(principalScope('principal'), agent), true);
    assert.equal(scopeMatches(principalScope('principal == Agent::"a"'), agent), true);
    assert.equal(scopeMatches(principalScope('principal == Agent::"b"'), agent), false);
    assert.equal(scopeMatches(principalScope('principal in Org::"o"'), agent), true);
    assert.equal(scopeMatches(principalScope('principal in Agent::"a"'), agent), true);
    assert.equal(scopeMatches(principalScope('principal in Group::"h"'), agent), false);
    assert.equal(scopeMatches(principalScope('principal is Agent'), agent), true);
    assert.equal(scopeMatches(principalScope('principal is User'), agent), false);
    assert.equal(scopeMatches(principalScope('principal is Agent in Group::"g"'), agent), true);
    assert.equal(scopeMatches(principalScope('principal is Agent in Group::"h"'), agent), false);
  });
});

describe('contextKeysRead', () => {
  it('lists the top-level keys the conditions read', () => {
    const keys = contextKeysRead(
      json(
        'permit(principal, action, resource) when { context.delegation.depth < 3 && context has risk } unless { context.input.path like "/tmp/*" };',
      ),
    );
    assert.deepEqual([...(keys as Set<string>)].sort(), ['delegation', 'input', 'risk']);
  });

  it('says all when the policy uses context as a whole', () => {
    assert.equal(
      contextKeysRead(json('permit(principal, action, resource) when { context == {} };')),
      'all',
    );
  });

  it('ignores record literals that happen to look like variables', () => {
    const keys = contextKeysRead(
      json(
        'permit(principal, action, resource) when { {"Var": "context"} == {"Var": "context"} };',
      ),
    );
    assert.deepEqual(keys, new Set());
  });
});
