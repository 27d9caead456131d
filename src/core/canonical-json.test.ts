import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { CanonicalJsonError, canonicalJson } from './canonical-json.js';

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.1,
  1e21,
  1e-7,
  5e-324,
  1.7976931348623157e308,
  2 ** 53,
  333333333.3333333,
];
const STRINGS = [
  '',
  'a',
  'é',
  '😀',
  '\u20ac',
  '\n\t"\\',
  '\u0000\u001f',
  'Z',
  'a\u0300',
  '\ud83d\ude00x',
];

/** JSON-ish values, with the numbers and strings where canonical forms are easy to get wrong. */
const { value: jsonish } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.constantFrom(...NUMBERS), fc.double({ noNaN: true, noDefaultInfinity: true })),
    fc.oneof(fc.constantFrom(...STRINGS), fc.string({ unit: 'binary' })),
    fc.boolean(),
    fc.constantFrom(null, undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom(...STRINGS), fc.string({ unit: 'binary' })),
      tie('value'),
      {
        maxKeys: 6,
      },
    ),
  ),
}));

describe('canonical JSON (RFC 8785)', () => {
  it('writes what the reference implementation writes, for 20,000 random values', () => {
    fc.assert(
      fc.property(jsonish, (v) => canonicalJson(v) === canonicalize(v)),
      { numRuns: 20_000 },
    );
  });

  it('sorts large objects too', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.nat(), { minKeys: 50, maxKeys: 150 }),
        (big) => canonicalJson(big) === canonicalize(big),
      ),
      { numRuns: 200 },
    );
  });

  it('matches the RFC 8785 examples: key order by UTF-16 code units, ES number forms', () => {
    const sorting = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    assert.equal(
      canonicalJson(sorting),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    assert.equal(
      canonicalJson({
        numbers: [Number('333333333.33333329'), 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      }),
      '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
    );
  });

  it('refuses what has no canonical form, as the reference does', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    for (const bad of [NaN, Infinity, -Infinity, 'x\ud800', { 'k\udc00': 1 }, cyclic, 1n]) {
      assert.throws(() => canonicalJson(bad), CanonicalJsonError);
      assert.throws(() => canonicalize(bad));
    }
    const shared = { x: 1 };
    assert.equal(canonicalJson({ b: shared, a: shared }), '{"a":{"x":1},"b":{"x":1}}');
  });
});
