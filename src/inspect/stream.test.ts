import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeSecrets } from './fixtures/samples.js';
import { PiiDetector } from './pii/detector.js';
import { redactText } from './redact.js';
import { SecretsDetector } from './secrets/detector.js';
import { holdPoint, StreamRedactor } from './stream.js';

const detectors = [new SecretsDetector(), new PiiDetector()];
const s = makeSecrets(33);
const batch = (text: string) =>
  redactText(
    text,
    detectors.flatMap((d) => d.detect(text)),
  );

function stream(chunks: string[]): string {
  const r = new StreamRedactor(detectors);
  return chunks.map((c) => r.push(c)).join('') + r.end();
}

describe('streaming redaction', () => {
  const cases: [string, string][] = [
    ['github token', `the deploy token is ${s.github} and it rotates weekly`],
    ['aws key', `AWS_ACCESS_KEY_ID=${s.aws}\nregion=eu-west-1`],
    ['generic assignment', `db_password = "${s.generic}" # prod`],
    ['card with spaces', 'charge card 4111 1111 1111 1111 now'],
    ['phone', 'call +44 20 7946 0958 tomorrow'],
    ['iban', 'pay to DE89 3704 0044 0532 0130 00 today'],
    ['email', 'write to ann.lee@corp.example please'],
    ['private key', `key:\n${s.privateKey}\ndone`],
  ];
  for (const [name, text] of cases) {
    it(`catches a ${name} split at every position`, () => {
      const expected = batch(text);
      assert.notEqual(expected, text, 'the batch redaction finds it');
      for (let i = 0; i <= text.length; i++) {
        assert.equal(stream([text.slice(0, i), text.slice(i)]), expected, `split at ${i}`);
      }
    });
  }

  it('catches it when every character is its own chunk', () => {
    const text = `token ${s.slack} and ssn 536-22-1234.`;
    assert.equal(stream([...text]), batch(text));
  });

  it('holds back only the tail that could still grow into a match', () => {
    assert.equal('The build passed and'.slice(holdPoint('The build passed and')), 'and');
    assert.equal('Done. '.slice(holdPoint('Done. ')), '');
    assert.equal('card 4111 1111 '.slice(holdPoint('card 4111 1111 ')), '4111 1111 ');
    assert.equal('password = '.slice(holdPoint('password = ')), 'password = ');
    const r = new StreamRedactor(detectors);
    assert.equal(r.push('Hello world, the weather is fine'), 'Hello world, the weather is ');
  });

  it('fails closed on a key block that never ends', () => {
    const r = new StreamRedactor(detectors, { maxHold: 256 });
    let out = r.push('before\n-----BEGIN RSA PRIVATE KEY-----\n');
    for (let i = 0; i < 20; i++) out += r.push('A'.repeat(64) + '\n');
    out += r.end();
    assert.equal(out, 'before\n[REDACTED:PRIVATE-KEY]');
  });
});
