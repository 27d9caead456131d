import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ibanValid, luhnValid, ssnValid } from './checksums.js';
import { PiiDetector } from './detector.js';

const d = new PiiDetector();
const types = (text: string) => d.detect(text).map((f) => f.type);

describe('PII detector', () => {
  it('checks card numbers with Luhn, IBANs with mod 97, SSNs by structure', () => {
    assert.ok(luhnValid('4111111111111111'));
    assert.ok(!luhnValid('4111111111111112'));
    assert.ok(ibanValid('GB82 WEST 1234 5698 7654 32'));
    assert.ok(!ibanValid('GB82 WEST 1234 5698 7654 33'));
    assert.ok(ssnValid('536221234'));
    for (const bad of ['000221234', '666221234', '912221234', '536001234', '536220000'])
      assert.ok(!ssnValid(bad), bad);
  });

  it('finds each type with the span of the value', () => {
    const text =
      'jane@corp.example, +1 415 555 0134, 4111 1111 1111 1111, 536-22-1234, DE89 3704 0044 0532 0130 00, 198.51.100.7';
    const found = d.detect(text);
    assert.deepEqual(
      found.map((f) => [f.type, text.slice(f.start, f.end)]),
      [
        ['email', 'jane@corp.example'],
        ['phone', '+1 415 555 0134'],
        ['credit_card', '4111 1111 1111 1111'],
        ['us_ssn', '536-22-1234'],
        ['iban', 'DE89 3704 0044 0532 0130 00'],
        ['ip_address', '198.51.100.7'],
      ],
    );
  });

  it('raises the score when a context word is near, as Presidio does', () => {
    const bare = d.detect('ref 536-22-1234')[0]!;
    const withWord = d.detect('SSN: 536-22-1234')[0]!;
    assert.ok(withWord.score > bare.score, `${withWord.score} > ${bare.score}`);
    // A bare nine-digit run is an SSN only when the text says so.
    assert.deepEqual(types('order 536221234 shipped'), []);
    assert.deepEqual(types('social security number 536221234'), ['us_ssn']);
  });

  it('ignores numbers inside identifiers, versions and longer numbers', () => {
    assert.deepEqual(types('id 550e8400-e29b-41d4-a716-446655440000'), []);
    assert.deepEqual(types('build 10.0.19041.1 and 1.2.3.4.5'), []);
    assert.deepEqual(types('order 4111 1111 1111 1112 shipped'), []);
  });

  it('finishes on pathological inputs', () => {
    for (const text of [
      '1'.repeat(100_000),
      'a@'.repeat(50_000),
      '1.'.repeat(50_000),
      ':'.repeat(100_000),
    ])
      assert.ok(Array.isArray(d.detect(text)));
  });
});
