import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from './canonical-json.js';
import { MAX_NESTING, unrecordable } from './request.js';

const nested = (depth: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
};

describe('unrecordable', () => {
  it('passes what canonical JSON can write, up to the nesting limit', () => {
    for (const v of [
      { a: [1, 'two', null, true, { b: -0.5 }] },
      'emoji 😀 (a surrogate pair)',
      nested(MAX_NESTING - 1),
    ]) {
      assert.equal(unrecordable(v), undefined);
      assert.ok(canonicalJson(v) !== undefined);
    }
  });

  it('names what the audit record could not hold, and where', () => {
    assert.equal(unrecordable({ a: { b: 'x\ud800' } }), 'a string with a lone surrogate at a.b');
    assert.equal(unrecordable({ ['k\udc00']: 1 }), 'a key with a lone surrogate');
    assert.equal(
      unrecordable({ n: [1, JSON.parse('1e999') as number] }),
      'a number out of range at n.1',
    );
    assert.match(
      unrecordable(nested(MAX_NESTING + 1))!,
      /^nesting deeper than 128 levels at k\.0\.k/,
    );
  });

  it('walks 100,000 levels without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    assert.match(unrecordable(deep)!, /^nesting deeper than/);
  });
});
