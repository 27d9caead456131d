import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { pino } from 'pino';
import { Engine } from '../core/engine.js';
import { TOKEN_EXCHANGE_GRANT } from '../identity/exchange.js';
import { RevocationStore } from '../identity/revocations.js';
import { loadTokenKeys, type TokenKey } from '../identity/token-keys.js';
import { TokenService } from '../identity/tokens.js';
import { loadPolicyDir } from '../policy/load.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { buildApp } from './app.js';
import { DecisionService } from './decisions.js';
import { Metrics } from './metrics.js';

const BIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const cordon = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

let app: FastifyInstance;
let base: string;
let data: string;
let tokens: TokenService;
let keys: TokenKey[];
let revocations: RevocationStore;

before(async () => {
  data = await tempDir('cordon-token-http-');
  keys = await loadTokenKeys(data);
  revocations = new RevocationStore(data);
  tokens = new TokenService(keys, revocations);
  const compiled = await loadPolicyDir(EXAMPLE_POLICIES);
  assert.ok(compiled.ok);
  const engine = new Engine({ policies: { current: () => compiled.set }, tokens });
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  app = buildApp({
    decisions: new DecisionService(engine, metrics, logger),
    metrics,
    logger,
    identity: { tokens, keys, revocations },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  await app.close();
  revocations.close();
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
      headers: { 'content-type': 'application/json' },
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
    assert.equal(cordon('token', 'revoke', '--agent', 'director-agent', '--data', data).status, 0);
    assert.equal((await decide({ token: two.token, ...query })).decision, 'deny');
  });
});

describe('cordon token', () => {
  it('issues, verifies, exchanges and rejects from the command line', async () => {
    const dir = await tempDir('cordon-token-cli-');
    const issued = cordon(
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
    const verified = cordon('token', 'verify', token, '--data', dir);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { agent: string }).agent, 'public-chatbot');

    const next = cordon(
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
    const refused = cordon(
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
    const foreign = cordon('token', 'verify', token, '--data', other);
    assert.equal(foreign.status, 1);
    assert.match(foreign.stdout, /rejected: unknown signing key/);

    const reach = cordon(
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
