import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScope, scopeAllows, ScopeError, widening } from './token-scope.js';

const allows = (scope: string, action: string, type: string, id: string) =>
  scopeAllows(parseScope(scope), action, { type, id });
const widened = (parent: string, child: string) =>
  widening(parseScope(parent), parseScope(child)).map((i) => i.text);

describe('token scopes', () => {
  it('allows what an item covers, and nothing else', () => {
    assert.ok(allows('*', 'invokeTool', 'Tool', 'x'));
    assert.ok(allows('invokeTool', 'invokeTool', 'Tool', 'x'));
    assert.ok(!allows('invokeTool', 'readFile', 'FilePath', '/x'));
    assert.ok(allows('invokeTool:Tool', 'invokeTool', 'Tool', 'erp/a'));
    assert.ok(!allows('invokeTool:Tool', 'invokeTool', 'Model', 'm'));
    assert.ok(allows('invokeTool:Tool::"erp/*"', 'invokeTool', 'Tool', 'erp/read'));
    assert.ok(!allows('invokeTool:Tool::"erp/*"', 'invokeTool', 'Tool', 'db/drop'));
    assert.ok(
      allows('readFile:FilePath::"/work space/a b"', 'readFile', 'FilePath', '/work space/a b'),
    );
    assert.ok(allows('readFile:FilePath::"/tmp/\\"q\\""', 'readFile', 'FilePath', '/tmp/"q"'));
    assert.ok(allows('delegate:Agent::"b" invokeTool', 'delegate', 'Agent', 'b'));
  });

  it('lets a child narrow and refuses any widening, naming the items', () => {
    assert.deepEqual(widened('*', 'invokeTool readFile'), []);
    assert.deepEqual(widened('invokeTool', 'invokeTool:Tool::"erp/read"'), []);
    assert.deepEqual(widened('invokeTool:Tool::"erp/*"', 'invokeTool:Tool::"erp/read/*"'), []);
    assert.deepEqual(widened('invokeTool:Tool::"erp/*"', 'invokeTool:Tool'), ['invokeTool:Tool']);
    assert.deepEqual(widened('invokeTool:Tool::"erp/read"', 'invokeTool:Tool::"erp/*"'), [
      'invokeTool:Tool::"erp/*"',
    ]);
    assert.deepEqual(widened('invokeTool', '*'), ['*']);
    assert.deepEqual(widened('invokeTool:Tool', 'invokeTool readFile:FilePath'), [
      'invokeTool',
      'readFile:FilePath',
    ]);
  });

  it('rejects malformed scopes with a message', () => {
    for (const bad of ['', '   ', 'invoke*Tool', 'a:b::"unterminated', 'a:"x"'])
      assert.throws(() => parseScope(bad), ScopeError, bad);
  });
});
