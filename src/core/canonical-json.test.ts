import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import { CanonicalJsonError, canonicalJson } from './canonical-json.js';

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 7));
  if (k === 0) return NUMBERS[Math.floor(r() * NUMBERS.length)]! * (r() < 0.5 ? 1 : -r());
  if (k === 1) return STRINGS[Math.floor(r() * STRINGS.length)]! + String(Math.floor(r() * 100));
  if (k === 2) return r() < 0.5;
  if (k === 3) return r() < 0.2 ? undefined : null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  if (k === 5) return new Date(Math.floor(r() * 4e12));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 6); i > 0; i--)
    o[STRINGS[Math.floor(r() * STRINGS.length)]! + String(Math.floor(r() * 10))] = randomValue(
      r,
      depth + 1,
    );
  return o;
}

describe('canonical JSON (RFC 8785)', () => {
  it('writes what the reference implementation writes, for 20,000 random values', () => {
    const r = rng(8785);
    for (let i = 0; i < 20_000; i++) {
      const v = randomValue(r, 0);
      assert.equal(canonicalJson(v), canonicalize(v), JSON.stringify(v));
    }
  });

  it('sorts large objects too', () => {
    const r = rng(32);
    const big: Record<string, number> = {};
    for (let i = 0; i < 100; i++) big[STRINGS[i % STRINGS.length]! + String(r())] = i;
    assert.equal(canonicalJson(big), canonicalize(big));
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
