import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { compilePolicySet } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import { readPolicySources } from '../policy/load.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { ExchangeError, exchangeToken } from './exchange.js';
import { Revocations } from '../store/cache/revocations.js';
import { openEmbeddedStores } from '../store/sqlite/index.js';
import { createTokenKey, loadTokenKeys } from './token-keys.js';
import { TokenError, TokenService } from './tokens.js';

async function setup(extraPolicy?: string) {
  const dir = await tempDir('cordon-tokens-');
  const keys = await loadTokenKeys(dir);
  const stores = await openEmbeddedStores(dir);
  const revocations = await Revocations.open(stores.revocations, stores.bus);
  const tokens = new TokenService(keys, revocations);
  const src = await readPolicySources(EXAMPLE_POLICIES);
  if (extraPolicy) src.policies.push({ file: 'extra.cedar', text: extraPolicy });
  const compiled = compilePolicySet(src);
  assert.ok(compiled.ok);
  const engine = new Engine({ policies: { current: () => compiled.set }, tokens });
  const decide = (r: Parameters<Engine['decide']>[0]) => engine.decide(r);
  return { dir, keys, stores, revocations, tokens, engine, decide };
}

const root = (tokens: TokenService, user: string, agent: string, scope = '*', ttlSeconds = 600) =>
  tokens.issue({ user, chain: [agent], scope, ttlSeconds });

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('delegation tokens', () => {
  it('carry the user, the actor chain as nested act claims, depth, scope, audience, expiry and jti', async () => {
    const { tokens } = await setup();
    const { token, jti } = await tokens.issue({
      user: 'carol',
      chain: ['a', 'b', 'c'],
      scope: 'invokeTool',
      ttlSeconds: 60,
    });
    const claims = decodeJwt(token);
    assert.equal(claims.sub, 'carol');
    assert.deepEqual(claims.act, { sub: 'c', act: { sub: 'b', act: { sub: 'a' } } });
    assert.equal(claims.delegation_depth, 3);
    assert.equal(claims.aud, 'cordon');
    assert.equal(claims.jti, jti);
    const v = await tokens.verify(token);
    assert.deepEqual([v.user, v.agent, v.chain, v.depth], ['carol', 'c', ['a', 'b', 'c'], 3]);
  });

  it('decide with a token: the SRE side door is denied, naming the user', async () => {
    const { tokens, decide } = await setup();
    const { token } = await root(tokens, 'bob', 'director-agent');
    const d = await decide({
      token,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    });
    assert.equal(d.decision, 'deny');
    assert.ok(
      d.reasons.some((r) => r.policy === 'interns-no-destructive' && r.principal === 'user'),
    );
    const carol = await root(tokens, 'carol', 'director-agent');
    assert.equal(
      (
        await decide({
          token: carol.token,
          action: 'invokeTool',
          resource: { type: 'Tool', id: 'postgres/drop_table' },
        })
      ).decision,
      'require_approval',
    );
  });

  it('enforces the scope as a ceiling on top of the policies', async () => {
    const { tokens, decide } = await setup();
    const { token } = await root(
      tokens,
      'carol',
      'director-agent',
      'invokeTool:Tool::"postgres/query"',
    );
    assert.equal(
      (
        await decide({
          token,
          action: 'invokeTool',
          resource: { type: 'Tool', id: 'postgres/query' },
        })
      ).decision,
      'allow',
    );
    const d = await decide({
      token,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    });
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/scope-exceeded');
  });

  it('refuses a request whose agent or user fields contradict its token', async () => {
    const { tokens, decide } = await setup();
    const { token } = await root(tokens, 'bob', 'director-agent');
    for (const extra of [{ user: 'carol' }, { agent: 'ledger-bot' }]) {
      const d = await decide({
        token,
        ...extra,
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'postgres/query' },
      });
      assert.equal(d.reasons[0]?.policy, 'cordon/identity-conflict', JSON.stringify(extra));
    }
    const same = await decide({
      token,
      user: 'bob',
      agent: 'director-agent',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/query' },
    });
    assert.equal(same.decision, 'allow');
  });

  describe('rejects', () => {
    const rejects = async (tokens: TokenService, token: string, reason: RegExp) =>
      assert.rejects(
        tokens.verify(token),
        (e: unknown) => e instanceof TokenError && reason.test(e.message),
      );

    it('a tampered token', async () => {
      const { tokens } = await setup();
      const { token } = await root(tokens, 'bob', 'director-agent');
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      payload.sub = 'carol';
      await rejects(tokens, `${h}.${b64(payload)}.${s}`, /signature/);
    });

    it('a forged or reordered act chain', async () => {
      const { tokens, keys } = await setup();
      const { token } = await tokens.issue({
        user: 'u',
        chain: ['a', 'b', 'c'],
        scope: '*',
        ttlSeconds: 60,
      });
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      payload.act = { sub: 'a', act: { sub: 'b', act: { sub: 'c' } } };
      await rejects(tokens, `${h}.${b64(payload)}.${s}`, /signature/);
      // Signed with our own key but inconsistent: the depth must match the chain.
      const inconsistent = await new SignJWT({
        act: { sub: 'c', act: { sub: 'a' } },
        scope: '*',
        delegation_depth: 3,
      })
        .setProtectedHeader({ alg: 'EdDSA', kid: keys[0]!.kid })
        .setIssuer('cordon')
        .setSubject('u')
        .setAudience('cordon')
        .setIssuedAt()
        .setExpirationTime('1m')
        .setJti('x')
        .sign(keys[0]!.privateKey);
      await rejects(tokens, inconsistent, /depth does not match/);
    });

    it('an expired token', async () => {
      const { tokens, keys } = await setup();
      const expired = await new SignJWT({ act: { sub: 'a' }, scope: '*', delegation_depth: 1 })
        .setProtectedHeader({ alg: 'EdDSA', kid: keys[0]!.kid })
        .setIssuer('cordon')
        .setSubject('u')
        .setAudience('cordon')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .setJti('old')
        .sign(keys[0]!.privateKey);
      await rejects(tokens, expired, /expired/);
    });

    it('a token for another audience', async () => {
      const { tokens } = await setup();
      const { token } = await tokens.issue({
        user: 'u',
        chain: ['a'],
        scope: '*',
        ttlSeconds: 60,
        audience: 'some-other-api',
      });
      await rejects(tokens, token, /aud/);
    });

    it('alg none, and keys that are not ours', async () => {
      const { tokens, keys } = await setup();
      const claims = {
        iss: 'cordon',
        sub: 'u',
        aud: 'cordon',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
        jti: 'n',
        act: { sub: 'a' },
        scope: '*',
        delegation_depth: 1,
      };
      await rejects(
        tokens,
        `${b64({ alg: 'none', kid: keys[0]!.kid })}.${b64(claims)}.`,
        /algorithm|signature|invalid/,
      );
      await rejects(tokens, `${b64({ alg: 'none' })}.${b64(claims)}.`, /unknown signing key/);
      const foreign = generateKeyPairSync('ed25519').privateKey;
      const sameKid = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid: keys[0]!.kid })
        .sign(foreign);
      await rejects(tokens, sameKid, /signature/);
      const otherKid = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid: 'mallory-1' })
        .sign(foreign);
      await rejects(tokens, otherKid, /unknown signing key/);
    });

    it('revoked tokens, by jti and by agent, also after a restart', async () => {
      const { dir, keys, tokens, stores, revocations } = await setup();
      const one = await root(tokens, 'bob', 'director-agent');
      const two = await tokens.issue({
        user: 'bob',
        chain: ['ledger-bot', 'forecast-bot'],
        scope: '*',
        ttlSeconds: 60,
      });
      await revocations.revokeToken(one.jti);
      await rejects(tokens, one.token, /revoked/);
      await revocations.revokeAgent('ledger-bot');
      await rejects(tokens, two.token, /ledger-bot.*revoked/);
      revocations.close();
      await stores.close();
      const reopened = await openEmbeddedStores(dir);
      const restarted = new TokenService(
        keys,
        await Revocations.open(reopened.revocations, reopened.bus),
      );
      await rejects(restarted, one.token, /revoked/);
      await rejects(restarted, two.token, /revoked/);
    });
  });

  it('verifies with every key after a rotation and signs with the newest', async () => {
    const { dir, revocations } = await setup();
    const before = new TokenService(await loadTokenKeys(dir), revocations);
    const old = await before.issue({ user: 'u', chain: ['a'], scope: '*', ttlSeconds: 60 });
    const fresh = await createTokenKey(dir);
    const after = new TokenService(await loadTokenKeys(dir), revocations);
    await after.verify(old.token);
    const issued = await after.issue({ user: 'u', chain: ['a'], scope: '*', ttlSeconds: 60 });
    assert.equal(
      JSON.parse(Buffer.from(issued.token.split('.')[0]!, 'base64url').toString()).kid,
      fresh.kid,
    );
  });
});

describe('token exchange', () => {
  it('walks public → dmz → secure, depth growing by one, each hop decided by policy', async () => {
    const { tokens, decide } = await setup();
    const start = await root(tokens, 'guest-42', 'public-chatbot');
    const faq = await exchangeToken(tokens, decide, {
      subjectToken: start.token,
      agent: 'faq-agent',
    });
    assert.equal(faq.depth, 2);
    assert.deepEqual(decodeJwt(faq.token).act, {
      sub: 'faq-agent',
      act: { sub: 'public-chatbot' },
    });
    const hr = await exchangeToken(tokens, decide, { subjectToken: faq.token, agent: 'hr-agent' });
    assert.equal(hr.depth, 3);
    // The customer behind the chain is still the user: HR data stays out of reach.
    const read = await decide({
      token: hr.token,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'hr-db/read_salaries' },
    });
    assert.equal(read.decision, 'deny');
    assert.ok(
      read.reasons.some((r) => r.policy === 'hr-data-for-hr-only' && r.principal === 'user'),
    );
  });

  it('refuses public → secure directly', async () => {
    const { tokens, decide } = await setup();
    const start = await root(tokens, 'guest-42', 'public-chatbot');
    await assert.rejects(
      exchangeToken(tokens, decide, { subjectToken: start.token, agent: 'hr-agent' }),
      (e: unknown) =>
        e instanceof ExchangeError &&
        e.code === 'access_denied' &&
        /zones-never-public-to-secure/.test(JSON.stringify(e.decision?.reasons)),
    );
  });

  it('refuses the fourth hop under the depth-3 policy', async () => {
    const { tokens, decide } = await setup();
    const t1 = await root(tokens, 'dana', 'faq-agent');
    const t2 = await exchangeToken(tokens, decide, { subjectToken: t1.token, agent: 'hr-agent' });
    const t3 = await exchangeToken(tokens, decide, {
      subjectToken: t2.token,
      agent: 'payroll-agent',
    });
    assert.equal(t3.depth, 3);
    await assert.rejects(
      exchangeToken(tokens, decide, { subjectToken: t3.token, agent: 'hr-agent' }),
      (e: unknown) =>
        e instanceof ExchangeError &&
        /delegation-depth-limit/.test(JSON.stringify(e.decision?.reasons)),
    );
  });

  it("refuses a scope wider than the parent's instead of trimming it", async () => {
    const { tokens, decide } = await setup();
    const start = await root(
      tokens,
      'guest-42',
      'public-chatbot',
      'delegate invokeTool:Tool::"faq-kb/*"',
    );
    const narrower = await exchangeToken(tokens, decide, {
      subjectToken: start.token,
      agent: 'faq-agent',
      scope: 'invokeTool:Tool::"faq-kb/search"',
    });
    assert.equal(decodeJwt(narrower.token).scope, 'invokeTool:Tool::"faq-kb/search"');
    await assert.rejects(
      exchangeToken(tokens, decide, {
        subjectToken: start.token,
        agent: 'faq-agent',
        scope: 'invokeTool',
      }),
      (e: unknown) =>
        e instanceof ExchangeError && e.code === 'invalid_scope' && /widens/.test(e.message),
    );
    // A token whose scope does not include delegation cannot be exchanged at all.
    await assert.rejects(
      exchangeToken(tokens, decide, { subjectToken: narrower.token, agent: 'faq-agent' }),
      (e: unknown) =>
        e instanceof ExchangeError && /scope-exceeded/.test(JSON.stringify(e.decision?.reasons)),
    );
  });

  it('keeps a public agent out of the secure zone through the dmz when policy forbids that hop', async () => {
    const { tokens, decide } = await setup(
      '@id("no-public-chains-into-secure") forbid(principal, action == Action::"delegate", resource in Zone::"secure") when { context.delegation.chain.contains("public-chatbot") };',
    );
    const start = await root(tokens, 'guest-42', 'public-chatbot');
    const faq = await exchangeToken(tokens, decide, {
      subjectToken: start.token,
      agent: 'faq-agent',
    });
    await assert.rejects(
      exchangeToken(tokens, decide, { subjectToken: faq.token, agent: 'hr-agent' }),
      (e: unknown) =>
        e instanceof ExchangeError &&
        /no-public-chains-into-secure/.test(JSON.stringify(e.decision?.reasons)),
    );
  });

  it('never outlives its parent', async () => {
    const { tokens, decide } = await setup();
    const start = await root(tokens, 'guest-42', 'public-chatbot', '*', 30);
    const child = await exchangeToken(tokens, decide, {
      subjectToken: start.token,
      agent: 'faq-agent',
      ttlSeconds: 3600,
    });
    assert.ok(child.expiresAt <= start.expiresAt);
  });
});
