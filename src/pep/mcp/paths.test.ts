import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { PathArgumentError, toolPaths } from './paths.js';

const at = { base: '/srv', home: '/home/ann' };
const tool = (name: string, properties: Record<string, object>): Tool => ({
  name,
  inputSchema: { type: 'object', properties },
});

describe('path arguments', () => {
  it('collapse .., . and repeated slashes before the decision', () => {
    assert.deepEqual(toolPaths({ path: '/work/allowed/../../etc/passwd' }, undefined, at), {
      input: { path: '/etc/passwd' },
      paths: ['/etc/passwd'],
    });
    assert.deepEqual(toolPaths({ path: '/work//allowed/./a.txt' }, undefined, at).input, {
      path: '/work/allowed/a.txt',
    });
    assert.deepEqual(toolPaths({ paths: ['/a/b/../c', '/x//y/'] }, undefined, at), {
      input: { paths: ['/a/c', '/x/y'] },
      paths: ['/a/c', '/x/y'],
    });
    assert.deepEqual(
      toolPaths(
        { source: '/a/./b', destination: '/a/../../c', edits: [{ oldText: '../x' }] },
        undefined,
        at,
      ),
      {
        input: { source: '/a/b', destination: '/c', edits: [{ oldText: '../x' }] },
        paths: ['/a/b', '/c'],
      },
    );
  });

  it('collects every path of the call, decoys included', () => {
    const r = toolPaths(
      { path: '/workspace/decoy', source: '/etc/shadow', destination: '/tmp/out' },
      tool('move_file', { source: { type: 'string' }, destination: { type: 'string' } }),
      at,
    );
    assert.deepEqual(r.paths, ['/etc/shadow', '/tmp/out', '/workspace/decoy']);
  });

  it('reads the input schema: described paths, file: URIs, arrays of them', () => {
    const t = tool('copy', {
      from: { type: 'string', description: 'Path of the file to copy' },
      into: { type: 'array', items: { type: 'string', description: 'target directory path' } },
      link: { type: 'string', format: 'uri' },
      site: { type: 'string', format: 'uri' },
      content: { type: 'string', description: 'what to write into the file' },
    });
    const r = toolPaths(
      {
        from: '/a/../etc/x',
        into: ['/b/./c'],
        link: 'file:///w/%2e%2e/etc/y',
        site: 'https://example.com/../x',
        content: 'hello',
      },
      t,
      at,
    );
    assert.deepEqual(r.paths, ['/b/c', '/etc/x', '/etc/y']);
    assert.deepEqual(r.input, {
      from: '/etc/x',
      into: ['/b/c'],
      link: 'file:///etc/y',
      site: 'https://example.com/../x',
      content: 'hello',
    });
  });

  it('takes the paths the operator names for a tool', () => {
    const t = tool('sync', { a: { type: 'string' }, b: { type: 'string' } });
    const r = toolPaths({ a: '/x/../y', b: 'plain' }, t, { ...at, pathArguments: { sync: ['a'] } });
    assert.deepEqual(r, { input: { a: '/y', b: 'plain' }, paths: ['/y'] });
  });

  it('places relative paths against the server, ~ both ways', () => {
    assert.deepEqual(toolPaths({ path: '../etc/passwd' }, undefined, at).paths, ['/etc/passwd']);
    assert.deepEqual(toolPaths({ path: '~/.ssh/id_rsa' }, undefined, at).paths, [
      '/home/ann/.ssh/id_rsa',
      '/srv/~/.ssh/id_rsa',
    ]);
    assert.throws(() => toolPaths({ path: 'notes.txt' }), /working directory is unknown/);
  });

  it('leaves other strings alone and refuses NUL bytes and encoded slashes', () => {
    assert.deepEqual(toolPaths({ content: 'see ../notes//x', pattern: '**/../*' }, undefined, at), {
      input: { content: 'see ../notes//x', pattern: '**/../*' },
      paths: [],
    });
    assert.throws(() => toolPaths({ path: '/tmp/a\0b' }, undefined, at), PathArgumentError);
    assert.throws(
      () => toolPaths({ file: 'file:///w/..%2fetc/passwd' }, undefined, at),
      PathArgumentError,
    );
  });
});
