import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pino } from 'pino';
import { Engine } from '../../core/engine.js';
import { TOKEN_EXCHANGE_GRANT } from '../../identity/exchange.js';
import { Revocations } from '../../store/cache/revocations.js';
import type { Stores } from '../../store/ports.js';
import { openEmbeddedStores } from '../../store/sqlite/index.js';
import { loadTokenKeys, type TokenKey } from '../../identity/token-keys.js';
import { TokenService } from '../../identity/tokens.js';
import { loadPolicyDir } from '../../policy/load.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { testAuth } from '../../testing/auth.js';
import { runCli } from '../../testing/cli.js';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';

const cordon = (...args: string[]) => runCli(args);

let app: FastifyInstance;
let base: string;
let data: string;
let tokens: TokenService;
let keys: TokenKey[];
let revocations: Revocations;
let stores: Stores;
let admin: { authorization: string };

before(async () => {
  data = await tempDir('cordon-token-http-');
  keys = await loadTokenKeys(data);
  stores = await openEmbeddedStores(data);
  revocations = await Revocations.open(stores.revocations, stores.bus);
  tokens = new TokenService(keys, revocations);
  const compiled = await loadPolicyDir(EXAMPLE_POLICIES);
  assert.ok(compiled.ok);
  const engine = new Engine({ policies: { current: () => compiled.set }, tokens });
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const t = testAuth(tokens);
  admin = t.admin;
  app = buildApp({
    decisions: new DecisionService(engine, metrics, logger),
    metrics,
    logger,
    identity: { tokens, keys, revocations },
    auth: t.auth,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  await app.close();
  revocations.close();
  await stores.close();
});

const form = (fields: Record<string, string>) =>
  fetch(`${base}/v1/token/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
const decide = async (body: unknown) =>
  (await (
    await fetch(`${base}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json()) as { decision: string; reasons: { policy: string }[] };

describe('token endpoints', () => {
  it('exchanges per RFC 8693 (form encoded); the JWKS verifies what it issues', async () => {
    const { token } = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    });
    const res = await form({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      agent: 'faq-agent',
      scope: 'invokeTool:Tool::"faq-kb/*" delegate',
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      access_token: string;
      issued_token_type: string;
      token_type: string;
      expires_in: number;
      delegation_depth: number;
    };
    assert.equal(body.issued_token_type, 'urn:ietf:params:oauth:token-type:jwt');
    assert.equal(body.token_type, 'N_A');
    assert.equal(body.delegation_depth, 2);
    assert.ok(body.expires_in > 0 && body.expires_in <= 600);

    // Any JOSE library can check it against the published keys.
    const set = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string; crv: string }[];
    };
    assert.deepEqual(
      set.keys.map((k) => [k.kid, k.crv]),
      [[keys[0]!.kid, 'Ed25519']],
    );
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(set as never), {
      audience: 'cordon',
    });
    assert.deepEqual(payload.act, { sub: 'faq-agent', act: { sub: 'public-chatbot' } });

    const search = await decide({
      token: body.access_token,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'faq-kb/search' },
    });
    assert.equal(search.decision, 'allow');

    // AuthZEN accepts the token in the subject's properties.
    const authzen = async (subject: unknown) =>
      (await (
        await fetch(`${base}/access/v1/evaluation`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            subject,
            action: { name: 'invokeTool' },
            resource: { type: 'Tool', id: 'faq-kb/search' },
          }),
        })
      ).json()) as { decision: boolean; context: { reasons: { policy: string }[] } };
    assert.equal(
      (await authzen({ type: 'Agent', id: 'faq-agent', properties: { token: body.access_token } }))
        .decision,
      true,
    );
    const conflict = await authzen({
      type: 'Agent',
      id: 'hr-agent',
      properties: { token: body.access_token },
    });
    assert.equal(conflict.decision, false);
    assert.equal(conflict.context.reasons[0]?.policy, 'cordon/identity-conflict');
  });

  it('answers RFC 6749 errors: bad grant, widened scope, denied hop', async () => {
    const { token } = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: 'delegate',
      ttlSeconds: 600,
    });
    const bad = await form({
      grant_type: 'client_credentials',
      subject_token: token,
      agent: 'faq-agent',
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_request');
    const wide = await form({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: token,
      agent: 'faq-agent',
      scope: 'invokeTool',
    });
    assert.equal(wide.status, 400);
    assert.equal(((await wide.json()) as { error: string }).error, 'invalid_scope');
    const denied = await fetch(`${base}/v1/token/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: token,
        agent: 'hr-agent',
      }),
    });
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as {
      error: string;
      reasons: { policy: string }[];
      decision_id: string;
    };
    assert.equal(body.error, 'access_denied');
    assert.ok(body.reasons.some((r) => r.policy === 'zones-never-public-to-secure'));
    assert.match(body.decision_id, /^[0-9a-f-]{36}$/);
  });

  it('revocation applies to the next decision, including one made by the CLI', async () => {
    const one = await tokens.issue({
      user: 'carol',
      chain: ['director-agent'],
      scope: '*',
      ttlSeconds: 600,
    });
    const query = { action: 'invokeTool', resource: { type: 'Tool', id: 'postgres/query' } };
    assert.equal((await decide({ token: one.token, ...query })).decision, 'allow');
    const r = await fetch(`${base}/v1/token/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ jti: one.jti }),
    });
    assert.equal(r.status, 200);
    const after = await decide({ token: one.token, ...query });
    assert.equal(after.decision, 'deny');
    assert.equal(after.reasons[0]?.policy, 'cordon/invalid-token');

    const two = await tokens.issue({
      user: 'carol',
      chain: ['director-agent'],
      scope: '*',
      ttlSeconds: 600,
    });
    assert.equal(
      (await cordon('token', 'revoke', '--agent', 'director-agent', '--data', data)).status,
      0,
    );
    assert.equal((await decide({ token: two.token, ...query })).decision, 'deny');
  });
});

const exchange = async (subject: string, agent: string, extra: Record<string, string> = {}) => {
  const res = await form({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    agent,
    ...extra,
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      access_token: string;
      error?: string;
      error_description?: string;
    },
  };
};
const control = async (path: string, body: unknown, headers: Record<string, string> = admin) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const searchWith = (token: string) =>
  decide({ token, action: 'invokeTool', resource: { type: 'Tool', id: 'faq-kb/search' } });

describe('token revocation and minting', () => {
  it('revoking a token revokes every token minted from it, at any depth', async () => {
    const root = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    });
    const child = await exchange(root.token, 'faq-agent');
    assert.equal(child.status, 200, child.body.error_description);
    const grandchild = await exchange(child.body.access_token, 'support-bot');
    const usable = [child.body.access_token];
    if (grandchild.status === 200) usable.push(grandchild.body.access_token);
    for (const t of usable) assert.equal((await searchWith(t)).decision, 'allow');

    assert.equal((await control('/v1/token/revoke', { jti: root.jti })).status, 200);
    for (const t of usable) {
      const after = await searchWith(t);
      assert.equal(after.decision, 'deny', 'a token minted from a revoked one is revoked');
      assert.equal(after.reasons[0]?.policy, 'cordon/invalid-token');
    }
    const again = await exchange(child.body.access_token, 'faq-agent');
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.match(again.body.error_description!, /minted from, was revoked/);
  });

  it('a revoked agent is delegated nothing until it is reinstated; older tokens stay revoked', async () => {
    const root = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    });
    const before = await exchange(root.token, 'faq-agent');
    assert.equal(before.status, 200);
    assert.equal((await control('/v1/token/revoke', { agent: 'faq-agent' })).status, 200);

    const redelegated = await exchange(root.token, 'faq-agent');
    assert.equal(redelegated.status, 403, 'a revoked agent cannot be re-delegated');
    assert.equal(redelegated.body.error, 'access_denied');
    assert.match(redelegated.body.error_description!, /faq-agent" is revoked/);
    await assert.rejects(
      tokens.issue({ user: 'guest-42', chain: ['faq-agent'], scope: '*', ttlSeconds: 60 }),
      /is revoked/,
    );

    const lifted = await control('/v1/token/reinstate', { agent: 'faq-agent' });
    assert.equal(lifted.status, 200);
    assert.equal((await control('/v1/token/reinstate', { agent: 'faq-agent' })).status, 404);
    // The second boundary: tokens issued in the revocation's second count as issued before it.
    await new Promise((r) => setTimeout(r, 1100));
    const after = await exchange(root.token, 'faq-agent');
    assert.equal(after.status, 200, after.body.error_description);
    assert.equal((await searchWith(after.body.access_token)).decision, 'allow');
    assert.equal(
      (await searchWith(before.body.access_token)).decision,
      'deny',
      'a token issued before the revocation stays revoked after the agent is reinstated',
    );
  });

  it('mints a token for another audience only where policy permits mintToken on it', async () => {
    const root = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    });
    const arbitrary = await exchange(root.token, 'faq-agent', { audience: 'payments-api' });
    assert.equal(arbitrary.status, 403);
    assert.equal(arbitrary.body.error, 'access_denied');
    assert.match(arbitrary.body.error_description!, /audience "payments-api" is not permitted/);
    const named = await exchange(root.token, 'faq-agent', { audience: 'faq-search' });
    assert.equal(named.status, 200, named.body.error_description);
    const { payload } = await jwtVerify(
      named.body.access_token,
      createLocalJWKSet((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as never),
      { audience: 'faq-search' },
    );
    assert.equal(payload.aud, 'faq-search');
  });

  it('refuses revocation to callers without a credential (401) or a permitting policy (403)', async () => {
    const one = await tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    });
    const anonymous = await control('/v1/token/revoke', { agent: 'public-chatbot' }, {});
    assert.equal(anonymous.status, 401);
    const byAgent = await control(
      '/v1/token/revoke',
      { agent: 'faq-agent' },
      { authorization: `Bearer ${one.token}` },
    );
    assert.equal(byAgent.status, 403, 'an agent may not revoke others by default');
    const body = (await byAgent.json()) as { error: string; reasons: { policy: string }[] };
    assert.match(body.error, /agent public-chatbot \(for guest-42\) may not revokeToken/);
    assert.ok(body.reasons.length > 0);
    assert.equal((await exchange(one.token, 'faq-agent')).status, 200, 'nothing was revoked');
  });
});

describe('cordon token', () => {
  it('issues, verifies, exchanges and rejects from the command line', async () => {
    const dir = await tempDir('cordon-token-cli-');
    const issued = await cordon(
      'token',
      'issue',
      '--user',
      'guest-42',
      '--agent',
      'public-chatbot',
      '--scope',
      'delegate',
      '--scope',
      'invokeTool:Tool::"faq-kb/*"',
      '--ttl',
      '5m',
      '--data',
      dir,
    );
    assert.equal(issued.status, 0, issued.stderr);
    const token = issued.stdout.trim();
    const verified = await cordon('token', 'verify', token, '--data', dir);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { agent: string }).agent, 'public-chatbot');

    const next = await cordon(
      'token',
      'exchange',
      '--subject-token',
      token,
      '--agent',
      'faq-agent',
      '--policies',
      EXAMPLE_POLICIES,
      '--data',
      dir,
    );
    assert.equal(next.status, 0, next.stdout + next.stderr);
    const refused = await cordon(
      'token',
      'exchange',
      '--subject-token',
      token,
      '--agent',
      'hr-agent',
      '--policies',
      EXAMPLE_POLICIES,
      '--data',
      dir,
    );
    assert.equal(refused.status, 1);
    assert.match(refused.stdout, /refused \(access_denied\)/);

    const other = await tempDir('cordon-token-cli-');
    const foreign = await cordon('token', 'verify', token, '--data', other);
    assert.equal(foreign.status, 1);
    assert.match(foreign.stdout, /rejected: unknown signing key/);

    const reach = await cordon(
      'topology',
      'reach',
      '--policies',
      EXAMPLE_POLICIES,
      '--from',
      'Agent::"public-chatbot"',
      '--to',
      'Tool::"hr-db/read_salaries"',
      '--user',
      'guest-42',
      '--json',
    );
    assert.equal(reach.status, 0, reach.stderr);
    assert.equal((JSON.parse(reach.stdout) as { reachable: boolean }).reachable, false);
  });
});
