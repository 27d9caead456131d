import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ancestors, pathFacts } from './path-facts.js';

describe('path facts', () => {
  it('lists the strict ancestors of a path', () => {
    assert.deepEqual(ancestors('/a/b/c'), ['/', '/a', '/a/b']);
    assert.deepEqual(ancestors('/a'), ['/']);
    assert.deepEqual(ancestors('/'), []);
  });

  it('derives the directories containing every path and some path', () => {
    const f = pathFacts(['/ws/a/x.txt', '/ws/b/../y.txt', '/ws//a/z/']);
    assert.deepEqual(f.paths, ['/ws/a/z', '/ws/a/x.txt', '/ws/y.txt'].sort());
    assert.deepEqual(f.pathsAllIn, ['/', '/ws']);
    assert.deepEqual(f.pathsSomeIn, ['/', '/ws', '/ws/a']);
    const out = pathFacts(['/ws/a.txt', '/etc/passwd']);
    assert.deepEqual(out.pathsAllIn, ['/']);
    assert.ok(out.pathsSomeIn.includes('/etc'));
  });

  it('is strict and lexical: a directory is not inside itself, /wsx is not inside /ws', () => {
    assert.deepEqual(pathFacts(['/ws']).pathsAllIn, ['/']);
    assert.deepEqual(pathFacts(['/wsx/a']).pathsAllIn, ['/', '/wsx']);
  });

  it('gives no directory for no path (not every directory)', () => {
    assert.deepEqual(pathFacts([]), { paths: [], pathsAllIn: [], pathsSomeIn: [] });
  });
});
