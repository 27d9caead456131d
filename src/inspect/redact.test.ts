import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeSecrets } from './fixtures/samples.js';
import { Inspector } from './inspector.js';
import { redactText } from './redact.js';

const s = makeSecrets(21);
const text = `token ${s.github} for ann@corp.example, card 4111 1111 1111 1111.`;

describe('redaction operators', async () => {
  const { findings } = await new Inspector().inspect(text);
  const targets = findings.filter((f) => f.detector !== 'injection');

  it('replace names the type and leaves nothing of the value', () => {
    assert.equal(
      redactText(text, targets),
      'token [REDACTED:GITHUB-PAT] for [REDACTED:EMAIL], card [REDACTED:CREDIT_CARD].',
    );
  });

  it('mask keeps the length, and the last digits of PII only', () => {
    const out = redactText(text, targets, { operator: 'mask' });
    assert.equal(out.length, text.length);
    assert.ok(!out.includes(s.github.slice(-4)), 'no tail of a secret');
    assert.ok(out.includes('************1111'), out);
  });

  it('hash is salted: equal under one salt, different under another', () => {
    const a = redactText(text, targets, { operator: 'hash', salt: 'k1' });
    assert.equal(a, redactText(text, targets, { operator: 'hash', salt: 'k1' }));
    assert.notEqual(a, redactText(text, targets, { operator: 'hash', salt: 'k2' }));
    assert.ok(!a.includes(s.github));
    assert.match(a, /\[HASH:GITHUB-PAT:[0-9a-f]{16}\]/);
  });

  it('hash without a salt is keyed by the process, not unkeyed (a dictionary cannot undo it)', () => {
    const unsalted = redactText(text, targets, { operator: 'hash' });
    assert.equal(unsalted, redactText(text, targets, { operator: 'hash' }), 'stable in a process');
    assert.notEqual(unsalted, redactText(text, targets, { operator: 'hash', salt: '' }));
  });

  it('drop removes the values', () => {
    assert.equal(redactText(text, targets, { operator: 'drop' }), 'token  for , card .');
  });

  it('merges overlapping findings so no fragment survives', () => {
    const t = 'abcdefghij';
    const f = (start: number, end: number) => ({
      detector: 'secrets' as const,
      type: 'x',
      start,
      end,
      score: 1,
    });
    assert.equal(redactText(t, [f(1, 5), f(3, 8)]), 'a[REDACTED:X]ij');
  });
});
