import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getCountries, getExampleNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
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

  it('finds phone numbers of other countries, validated against their numbering plans', () => {
    const cases = [
      'Call +44 20 7946 0958 today',
      'Tel: +49 30 901820',
      '+33 1 42 68 53 00, ok',
      'dial 0044 20 7946 0958',
      'mobile +91 98765 43210.',
      'Tel: +81 3-1234-5678',
      'WhatsApp +55 11 91234-5678',
      '+44 (0)20 7946 0958',
      '+7 (912) 345-67-89',
      'office 020 7946 0958',
      'ph (415) 555-0134',
      '+61 2 9374 4000',
      '+86 138 0013 8000',
    ];
    for (const text of cases) assert.deepEqual(types(text), ['phone'], text);
    const text = 'reach me on +44 20 7946 0958 or jane@corp.example';
    const phone = d.detect(text).find((f) => f.type === 'phone')!;
    assert.equal(text.slice(phone.start, phone.end), '+44 20 7946 0958');
  });

  it('does not read ZIP+4 codes, part numbers, dates or versions as phones or addresses', () => {
    for (const text of [
      'San Francisco, CA 94107-1234',
      'part no. 123-456-7890',
      'SKU 4006381333931',
      'due 2024-01-02 at 12:30',
      '+12 34',
      'version 10.0.19041.1',
      'build 6.1.7601.1 installed',
      'running v1.2.3.4',
      'firmware 2.4.0.12 released',
    ])
      assert.deepEqual(types(text), [], text);
    // An address that is named as one still is.
    assert.deepEqual(types('client ip 10.0.0.12 connected'), ['ip_address']);
  });

  it('finds cards of every issued length: 12-digit Maestro to 19-digit Visa', () => {
    for (const text of [
      'maestro 5018 0000 0009',
      'card 6759 6498 2643 8453',
      'amex 3782 822463 10005',
      'diners 3056 9309 0259 04',
      'visa 4111 1111 1111 1111 110',
      'unionpay 6212 3456 7890 1234 569',
    ])
      assert.deepEqual(types(text), ['credit_card'], text);
  });

  it('finds dotted and spaced SSNs, lower-case and dashed IBANs', () => {
    assert.deepEqual(types('SSN 536.22.1234'), ['us_ssn']);
    assert.deepEqual(types('ssn: 536 22 1234'), ['us_ssn']);
    const text = 'send to iban de89 3704 0044 0532 0130 00 and confirm';
    const f = d.detect(text);
    assert.deepEqual(
      f.map((x) => [x.type, text.slice(x.start, x.end)]),
      [['iban', 'de89 3704 0044 0532 0130 00']],
    );
    assert.deepEqual(types('IBAN: DE89-3704-0044-0532-0130-00'), ['iban']);
    assert.deepEqual(types('IBAN: DE89-3704-0044-0532-0130-01'), []);
  });

  it('does not take the credentials of a URL for an email address', () => {
    assert.deepEqual(types('postgres://app:pa55word@db.example.com/prod'), []);
    assert.deepEqual(types('mail app@db.example.com'), ['email']);
  });

  it('finds the example mobile number of every region, international and E.164', () => {
    const missed: string[] = [];
    for (const region of getCountries()) {
      const example = getExampleNumber(region, examples);
      if (!example) continue;
      for (const number of [example.format('INTERNATIONAL'), example.format('E.164')]) {
        const text = `Please call me on ${number} tomorrow.`;
        const at = text.indexOf(number);
        const found = d.detect(text);
        if (
          !found.some((f) => f.type === 'phone' && f.start === at && f.end === at + number.length)
        )
          missed.push(`${region} ${number}: ${JSON.stringify(found.map((f) => f.type))}`);
      }
    }
    // "+688 90 1234" (Tuvalu) was read as an SSN: a number after "+" is a phone's.
    assert.deepEqual(missed, []);
  });
});
