import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { readAdminCredential } from './credentials.js';
import { TOKEN_EXCHANGE_GRANT } from './exchange.js';
import { openPdp, type Pdp } from '../runtime/pdp.js';
import { serveApi, type RunningApi } from '../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';

// Token exchange under isolation, through `cordon serve`'s own wiring: the isolation applied
// and released over the HTTP API with the local admin credential.
let pdp: Pdp;
let api: RunningApi;
let admin: string;

before(async () => {
  const data = await tempDir('cordon-token-iso-');
  const config = configSchema.parse({
    policies: EXAMPLE_POLICIES,
    data,
    watch: false,
    log: { level: 'silent' },
  });
  const log = pino({ level: 'silent' });
  pdp = await openPdp(config, log);
  api = await serveApi(pdp, config, log, { host: '127.0.0.1', port: 0 });
  admin = (await readAdminCredential(data))!;
});
after(async () => {
  await api.close();
  await pdp.close();
});

const post = async (path: string, body: unknown, bearer?: string) => {
  const res = await fetch(`${api.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const nextSecond = () => new Promise((r) => setTimeout(r, 1001 - (Date.now() % 1000)));
const rootToken = async () =>
  (
    await pdp.tokens.issue({
      user: 'guest-42',
      chain: ['public-chatbot'],
      scope: '*',
      ttlSeconds: 600,
    })
  ).token;
const exchange = (subject: string) =>
  post('/v1/token/exchange', {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    agent: 'faq-agent',
    scope: 'invokeTool:Tool::"faq-kb/*"',
  });
const search = async (token: string) =>
  (
    await post('/v1/decide', {
      token,
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'faq-kb/search' },
    })
  ).body.decision;
const isolate = async (agent: string) =>
  assert.equal(
    (
      await post(
        '/v1/isolation',
        { agent, measures: { noDelegation: true }, reason: 'delegation abuse' },
        admin,
      )
    ).status,
    201,
  );
const release = async (agent: string) =>
  assert.equal((await post('/v1/isolation/release', { agent }, admin)).status, 200);

describe('token exchange under isolation (noDelegation)', () => {
  it("refuses exchange while applied, revokes the agent's existing tokens, and exchanges again after release", async () => {
    const before = await rootToken();
    const delegated = await exchange(before);
    assert.equal(delegated.status, 200, JSON.stringify(delegated.body));
    const held = delegated.body.access_token as string;
    assert.equal(await search(held), 'allow');

    await isolate('public-chatbot');
    // The tokens it held (and those minted from them) no longer work anywhere.
    assert.equal(await search(held), 'deny');
    const stale = await exchange(before);
    assert.equal(stale.status, 400);
    assert.match(String(stale.body.error_description), /revoked/);
    // A token issued after the isolation is refused by the isolation itself. (Token times are
    // whole seconds: one issued in the second of the revocation counts as issued before it.)
    await nextSecond();
    const refused = await exchange(await rootToken());
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'access_denied');
    assert.match(
      String(refused.body.error_description),
      /agent "public-chatbot" is isolated \(delegation is refused\); applied by cordon-admin: delegation abuse/,
    );

    await release('public-chatbot');
    const again = await exchange(await rootToken());
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(await search(again.body.access_token as string), 'allow');
    // Tokens revoked by the isolation stay revoked: release restores delegation, not them.
    assert.equal(await search(held), 'deny');
  });

  it('refuses delegating to an agent under noDelegation', async () => {
    await isolate('faq-agent');
    const refused = await exchange(await rootToken());
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match(
      String(refused.body.error_description),
      /delegation target agent "faq-agent" is isolated \(nothing is delegated to it\)/,
    );
    await release('faq-agent');
    const again = await exchange(await rootToken());
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });
});
