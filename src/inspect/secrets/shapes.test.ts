import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { randomOf, seeded } from '../fixtures/samples.js';
import { SecretsDetector } from './detector.js';
import { isPlaceholder } from './placeholder.js';

const d = new SecretsDetector();
const r = seeded(2026);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const found = (text: string) => d.detect(text).map((f) => [f.type, text.slice(f.start, f.end)]);

// Tokens in the providers' shapes, assembled at run time from random characters.
const discord =
  Buffer.from('1093847561029384756').toString('base64url') +
  '.' +
  randomOf(r, ALNUM, 6) +
  '.' +
  randomOf(r, ALNUM + '_-', 38);
const telegram = '7' + randomOf(r, '0123456789', 9) + ':AA' + randomOf(r, ALNUM, 33);
const mailchimp = randomOf(r, '0123456789abcdef', 32) + '-us21';
const npm = 'np' + 'm_' + randomOf(r, ALNUM, 36);
const jwt2 =
  Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url') +
  '.' +
  Buffer.from('{"sub":"42","role":"admin"}').toString('base64url');

describe('secrets: bare provider tokens, with no keyword near them', () => {
  it('finds Discord, Telegram, Mailchimp and npm tokens in prose and punctuation', () => {
    for (const [token, type] of [
      [discord, 'discord-bot-token'],
      [telegram, 'telegram-bot-token'],
      [mailchimp, 'mailchimp-api-key'],
      [npm, 'npm-access-token'],
    ] as const) {
      for (const text of [`the bot uses ${token}, then restarts`, `(${token})`, `${token}.`])
        assert.deepEqual(found(text), [[type, token]], text);
    }
  });

  it('finds a JWT of two parts (unsigned or cut) and of three', () => {
    assert.deepEqual(found(`cookie session=${jwt2}; path=/`), [['jwt', jwt2]]);
    const signed = `${jwt2}.${randomOf(r, ALNUM, 43)}`;
    assert.deepEqual(found(`Bearer ${signed}`), [['jwt', signed]]);
  });

  it('does not take look-alikes for tokens', () => {
    const notJwt = `eyJ${randomOf(r, ALNUM, 20)}.eyJ${randomOf(r, ALNUM, 20)}`; // header is not JSON
    const notDiscord = `M${randomOf(r, ALNUM, 23)}.${randomOf(r, ALNUM, 6)}.${randomOf(r, ALNUM, 27)}`;
    for (const text of [notJwt, notDiscord, 'release 12345678:AAfoo', 'build 1.2.3-us1'])
      assert.deepEqual(found(text), [], text);
  });
});

describe('secrets: passwords inside URLs', () => {
  it('reports the password of a connection URL, not the user or host', () => {
    const pw = randomOf(r, ALNUM, 14);
    for (const url of [
      `postgres://app:${pw}@db.internal:5432/prod`,
      `redis://:${pw}@cache:6379/0`,
      `https://deploy:${pw}@git.example.org/repo.git`,
      `mongodb+srv://admin:${pw}@cluster0.abc.mongodb.net/?retryWrites=true`,
    ])
      assert.deepEqual(found(`DATABASE_URL=${url}`), [['url-password', pw]], url);
  });

  it('ignores URLs without a password, and placeholder passwords', () => {
    for (const text of [
      'https://user@host.example/path',
      'see https://example.org:8443/a@b',
      'postgres://user:password@localhost/db',
      'postgres://user:${DB_PASSWORD}@localhost/db',
      'mysql://root:<your-password>@127.0.0.1/test',
      'amqp://guest:xxxxxxxx@rabbit/',
    ])
      assert.deepEqual(found(text), [], text);
  });
});

describe('secrets: private keys without their BEGIN line', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'sec1',
    format: 'pem',
  }) as string;
  const body = (p: string) => p.split('\n').filter((l) => l && !l.startsWith('-----'));

  it('finds the whole key still (the gitleaks rule)', () => {
    assert.deepEqual(
      d.detect(pem).map((f) => f.type),
      ['private-key'],
    );
  });

  for (const [name, key] of [
    ['PKCS#8', pem],
    ['PKCS#1', pkcs1],
    ['SEC1 EC', ec],
  ] as const) {
    it(`finds a ${name} key read without its BEGIN line, and covers all its material`, () => {
      const lines = key.trimEnd().split('\n');
      const headless = lines.slice(1).join('\n');
      const text = `file contents:\n${headless}\n`;
      const f = d.detect(text);
      assert.deepEqual(
        f.map((x) => x.type),
        ['private-key'],
      );
      assert.equal(text.slice(f[0]!.start, f[0]!.end), headless);
    });

    it(`finds a ${name} key body with neither BEGIN nor END line`, () => {
      const text = `cat key.der.b64\n${body(key).join('\n')}\n$ `;
      const f = d.detect(text);
      assert.deepEqual(
        f.map((x) => x.type),
        ['private-key'],
      );
      assert.equal(text.slice(f[0]!.start, f[0]!.end), body(key).join('\n'));
    });
  }

  it('finds the tail of a key (its END line and the lines before it)', () => {
    const lines = pem.trimEnd().split('\n');
    const tail = lines.slice(8).join('\n');
    assert.deepEqual(
      d.detect(`...\n${tail}`).map((f) => f.type),
      ['private-key'],
    );
  });

  it('finds an OpenSSH key body', () => {
    const ssh = generateKeyPairSync('ed25519').privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    assert.deepEqual(
      d.detect(body(ssh).join('\n')).map((f) => f.type),
      ['private-key'],
      'ed25519 pkcs8',
    );
    const opensshBody = Buffer.from('openssh-key-v1\0' + randomOf(r, ALNUM, 200)).toString(
      'base64',
    );
    assert.deepEqual(
      d.detect(`key:\n${opensshBody}`).map((f) => f.type),
      ['private-key'],
    );
  });

  it("does not report public keys (SEQUENCE, SEQUENCE: not a private key's structure)", () => {
    const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    assert.deepEqual(d.detect(body(spki).join('\n')), []);
    assert.deepEqual(d.detect(spki), []);
  });
});

describe('secrets: placeholders are not secrets', () => {
  it('recognizes examples, fillers and sequences', () => {
    for (const v of [
      'your_api_key_here',
      'sk_live_EXAMPLEKEY1234',
      'xxxxxxxxxxxxxxxxxxxx',
      'abcdefghijklmnop1234',
      'a1b2c3d4e5f6g7h8i9j0' + '1234567890',
      '<YOUR_TOKEN>',
      '${GITHUB_TOKEN}',
    ])
      assert.ok(isPlaceholder(v), v);
    for (let i = 0; i < 50; i++) assert.ok(!isPlaceholder(randomOf(r, ALNUM, 40)));
  });

  it('drops provider-shaped placeholders the rules would report', () => {
    // Each of these is reported by its gitleaks rule without the placeholder filter.
    const texts = [
      `STRIPE_KEY=sk${'_live_'}abcdefghijklmnopqrstuvwx12345678`,
      `SLACK=xo${'xb-'}123456789012-123456789012-abcdefghijklmnopqrstuvwx`,
      `AWS_ACCESS_KEY_ID=AK${'IA'}ABCDEFGHIJKLMNOP`,
      'password = "Passw0rd_placeholder_42"',
      `np${'m_'}abcdefghijklmnopqrstuvwxyz0123456789`,
    ];
    for (const text of texts) assert.deepEqual(found(text), [], text);
  });
});
