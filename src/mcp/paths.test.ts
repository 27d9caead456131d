import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePathArguments, PathArgumentError } from './paths.js';

describe('path-like arguments', () => {
  it('collapse .., . and repeated slashes before the decision', () => {
    assert.deepEqual(normalizePathArguments({ path: '/work/allowed/../../etc/passwd' }), {
      path: '/etc/passwd',
    });
    assert.deepEqual(normalizePathArguments({ path: '/work//allowed/./a.txt' }), {
      path: '/work/allowed/a.txt',
    });
    assert.deepEqual(normalizePathArguments({ paths: ['/a/b/../c', '/x//y/'] }), {
      paths: ['/a/c', '/x/y'],
    });
    assert.deepEqual(
      normalizePathArguments({
        source: '/a/./b',
        destination: '/a/../../c',
        edits: [{ oldText: '../x' }],
      }),
      {
        source: '/a/b',
        destination: '/c',
        edits: [{ oldText: '../x' }],
      },
    );
  });

  it('leaves other strings alone and refuses NUL bytes', () => {
    assert.deepEqual(normalizePathArguments({ content: 'see ../notes//x', pattern: '**/../*' }), {
      content: 'see ../notes//x',
      pattern: '**/../*',
    });
    assert.throws(() => normalizePathArguments({ path: '/tmp/a\0b' }), PathArgumentError);
  });
});
