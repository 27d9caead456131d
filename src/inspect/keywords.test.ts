import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KeywordSet } from './keywords.js';
import { BoundedRegex, unboundedQuantifier, withoutWordBoundaries } from './regex.js';

describe('keyword automaton', () => {
  it('finds exactly what includes() finds, with every occurrence', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', 'k', 'e', 'y', '_', '.');
    const word = fc.string({ unit: alphabet, minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.uniqueArray(word, { minLength: 1, maxLength: 12 }),
        fc.string({ unit: alphabet, maxLength: 80 }),
        (words, text) => {
          const set = new KeywordSet(words);
          assert.deepEqual(
            set.present(text),
            words.map((w) => text.includes(w)),
          );
          const expected: [number, number][] = [];
          words.forEach((w, i) => {
            for (let at = text.indexOf(w); at >= 0; at = text.indexOf(w, at + 1))
              expected.push([i, at]);
          });
          const sort = (xs: [number, number][]) =>
            [...xs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          assert.deepEqual(sort(set.occurrences(text)), sort(expected));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('regex guards', () => {
  it('refuses a V8 pattern with an unbounded quantifier', () => {
    assert.equal(unboundedQuantifier(String.raw`a{1,5}[+*]\+b{2}`), undefined);
    for (const bad of ['a+', 'a*', 'a{2,}', '(?:ab)+?'])
      assert.throws(() => new BoundedRegex(bad), /unbounded quantifier/);
  });

  it('drops word boundaries only, never an escaped backslash before a b', () => {
    assert.equal(withoutWordBoundaries(String.raw`\bAKIA\b`), 'AKIA');
    assert.equal(withoutWordBoundaries(String.raw`x\\by`), String.raw`x\\by`);
    assert.equal(withoutWordBoundaries(String.raw`\\\bz`), String.raw`\\z`);
  });
});
