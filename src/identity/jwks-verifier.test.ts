import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';
import { jwksTokenVerifier } from './jwks-verifier.js';
import { createTokenKey, jwks } from './token-keys.js';
import { TokenError, TokenService } from './tokens.js';

const NONE = { agentRevoked: () => false, check: () => undefined };

async function issuer() {
  const key = await createTokenKey(await tempDir('cordon-jwks-'));
  return { key, tokens: new TokenService([key], NONE) };
}

const issue = (t: TokenService, o: { audience?: string; ttlSeconds?: number } = {}) =>
  t.issue({
    user: 'alice',
    chain: ['ledger-bot'],
    scope: '*',
    ttlSeconds: o.ttlSeconds ?? 60,
    ...o,
  });

describe('delegation tokens verified from published keys', () => {
  it('accepts a token the PDP signed, with its agent, user and chain', async () => {
    const { key, tokens } = await issuer();
    const verifier = jwksTokenVerifier({ jwks: await jwks([key]) });
    const d = await verifier.verify((await issue(tokens)).token);
    assert.equal(d.agent, 'ledger-bot');
    assert.equal(d.user, 'alice');
    assert.deepEqual(d.chain, ['ledger-bot']);
  });

  it('refuses a token signed by another key, for another audience, or tampered with', async () => {
    const ours = await issuer();
    const theirs = await issuer();
    const verifier = jwksTokenVerifier({ jwks: await jwks([ours.key]) });
    await assert.rejects(verifier.verify((await issue(theirs.tokens)).token), TokenError);
    await assert.rejects(
      verifier.verify((await issue(ours.tokens, { audience: 'faq-search' })).token),
      /aud/,
    );
    const [h, p, sig] = (await issue(ours.tokens)).token.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'mallory' }),
    ).toString('base64url');
    await assert.rejects(verifier.verify(`${h}.${forged}.${sig}`), /signature/);
    await assert.rejects(verifier.verify('not-a-jwt'), TokenError);
  });

  it('cannot issue: a verifier holds public keys only', async () => {
    const { key } = await issuer();
    const set = await jwks([key]);
    assert.ok(set.keys.every((k) => k.d === undefined));
    const pub = new TokenService([{ kid: key.kid, publicKey: key.publicKey }], NONE);
    await assert.rejects(issue(pub), /only verifies/);
  });

  it('refuses a JWKS key that is not Ed25519', async () => {
    assert.throws(
      () => jwksTokenVerifier({ jwks: { keys: [{ kty: 'RSA', kid: 'r', n: 'x', e: 'AQAB' }] } }),
      /Ed25519/,
    );
  });
});
