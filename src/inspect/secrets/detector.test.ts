import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeLookalikes, makeSecrets } from '../fixtures/samples.js';
import { gitleaksCatalogue } from './catalogue.js';
import { SecretsDetector } from './detector.js';

const d = new SecretsDetector();
const s = makeSecrets(3);

describe('secrets detector (gitleaks catalogue)', () => {
  it('ships the gitleaks rules with their source and licence', () => {
    const c = gitleaksCatalogue();
    assert.ok(c.rules.length > 200, `${c.rules.length} rules`);
    assert.match(c.data.source, /github\.com\/gitleaks\/gitleaks\/blob\/[0-9a-f]{40}\//);
    assert.match(c.data.license, /MIT/);
  });

  it('finds provider keys with spans that cover exactly the secret', () => {
    const cases: [string, string][] = [
      [s.aws, 'aws-access-token'],
      [s.github, 'github-pat'],
      [s.slack, 'slack-bot-token'],
      [s.stripe, 'stripe-access-token'],
    ];
    for (const [secret, type] of cases) {
      const text = `config:\n  credential: "${secret}"\n`;
      const found = d.detect(text).filter((f) => f.type === type);
      assert.equal(found.length, 1, type);
      assert.equal(text.slice(found[0]!.start, found[0]!.end), secret, type);
    }
  });

  it('stays quiet on documentation keys, hashes and identifiers', () => {
    const l = makeLookalikes(5);
    for (const text of [
      `AWS_ACCESS_KEY_ID=${l.awsDocExample}`,
      `commit ${l.gitSha}`,
      `digest sha256:${l.sha256}`,
      `trace ${l.uuid}`,
    ])
      assert.deepEqual(d.detect(text), [], text);
  });

  it('finishes on pathological inputs that make backtracking regexes explode', () => {
    // Each is 100 KB aimed at a gitleaks pattern's nested quantifiers: with a backtracking
    // engine these take minutes; RE2 semantics keep them linear (the test runner's timeout
    // is the bound; no timing threshold here).
    const n = 100_000;
    const inputs = [
      'api_key=' + 'a'.repeat(n),
      'secret' + ' '.repeat(n) + '=',
      'token:'.repeat(n / 6),
      '-----BEGIN PRIVATE KEY-----' + 'A'.repeat(n),
      'ey' + 'a'.repeat(n) + '.ey',
      'password' + '\t'.repeat(n) + 'x',
      // Many keyword hits in one long token: windows must not rescan the token per hit.
      's.'.repeat(n / 2),
      'key='.repeat(n / 4),
      'akia'.repeat(n / 4),
      ('token: ' + 'x'.repeat(30) + ' ').repeat(n / 38),
    ];
    for (const text of inputs) assert.ok(Array.isArray(d.detect(text)));
  });
});

describe('secrets detector: windows around keywords match what whole-text matching does', () => {
  const windowed = new SecretsDetector();
  const full = new SecretsDetector(undefined, { fullScan: true });
  const same = (text: string) =>
    assert.deepEqual(windowed.detect(text), full.detect(text), JSON.stringify(text.slice(0, 120)));

  it('on the corpus, the bench texts and every rule keyword in assignments', async () => {
    const { CORPUS } = await import('../fixtures/corpus.js');
    const { mixedTexts } = await import('../fixtures/mixed.js');
    for (const sample of CORPUS) same(sample.text);
    for (const text of mixedTexts(40)) same(text);
    const { randomOf, seeded } = await import('../fixtures/samples.js');
    const r = seeded(99);
    const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    for (const rule of gitleaksCatalogue().rules) {
      for (const k of rule.data.keywords) {
        const v = randomOf(r, alnum, 12) + randomOf(r, '0123456789', 8) + randomOf(r, alnum, 20);
        same(`${k}_token = "${v}"\n${k.toUpperCase()}_KEY: ${v.toLowerCase()};`);
        same(`{"${k}": "${v}", "x": 1} ${k}${v} (${k}=${v})`);
      }
    }
  });
});
