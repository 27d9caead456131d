import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../../config/config.js';
import { adminCredentialPath, readAdminCredential } from '../../identity/credentials.js';
import { adminHeader, testAuth } from '../../testing/auth.js';
import { testIdentityProvider } from '../../testing/console.js';
import { exampleEngine, EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { issueToken } from '../../testing/mcp.js';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';
import { startServer, type RunningServer } from '../../runtime/start.js';

const servers: RunningServer[] = [];
after(async () => {
  await Promise.allSettled(servers.map((s) => s.close()));
});

const PEP_SECRET = 'the-envoy-pep-credential';

async function start(o: { host?: string; auth?: Record<string, unknown> } = {}) {
  const data = await tempDir('cordon-auth-');
  const idp = await testIdentityProvider(data);
  const pepFile = join(data, 'envoy.credential');
  await writeFile(pepFile, `${PEP_SECRET}\n`, { mode: 0o600 });
  const s = await startServer(
    configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      host: o.host ?? '127.0.0.1',
      watch: false,
      log: { level: 'silent' },
      auth: {
        issuer: idp.issuer,
        peps: [{ name: 'envoy', credentialFile: pepFile }],
        ...o.auth,
      },
    }),
    pino({ level: 'silent' }),
  );
  servers.push(s);
  // A listener on every address is reached here through loopback, but it is not a loopback one.
  const url = s.url.replace('0.0.0.0', '127.0.0.1');
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { text };
    }
    return { status: res.status, body: json };
  };
  return { s, data, idp, call, admin: await adminHeader(data) };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const gated = {
  agent: 'ledger-bot',
  user: 'alice',
  session: 's-1',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/wire_transfer' },
  input: { amount: 1 },
};
const ledgerRead = {
  agent: 'ledger-bot',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
};

describe('who may call the API', () => {
  let local: Awaited<ReturnType<typeof start>>;
  before(async () => {
    local = await start();
  });

  it('creates the admin credential once, private to its owner, and keeps it across restarts', async () => {
    const data = await tempDir('cordon-auth-');
    const config = configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      watch: false,
      log: { level: 'silent' },
    });
    await (await startServer(config, pino({ level: 'silent' }))).close();
    assert.equal((await stat(adminCredentialPath(data))).mode & 0o777, 0o600);
    const first = await readAdminCredential(data);
    assert.match(first!, /^cordon-admin-[A-Za-z0-9_-]{43}$/);
    await (await startServer(config, pino({ level: 'silent' }))).close();
    assert.equal(await readAdminCredential(data), first);
  });

  it('refuses every control-plane route to a caller without a credential (401), changing nothing', async () => {
    const { call, data, admin } = local;
    const token = issueToken(data, 'alice', 'ledger-bot');
    const pending = await call('POST', '/v1/decide', gated);
    const id = (pending.body.approval as { id: string }).id;
    for (const [method, path, body] of [
      ['POST', '/v1/token/revoke', { agent: 'ledger-bot' }],
      ['POST', '/v1/token/reinstate', { agent: 'ledger-bot' }],
      ['POST', `/v1/approvals/${id}/approve`, { approver: 'alice' }],
      ['POST', `/v1/approvals/${id}/deny`, {}],
      ['GET', '/v1/approvals', undefined],
      ['GET', `/v1/approvals/${id}`, undefined],
      ['GET', '/v1/audit/records', undefined],
      ['GET', '/v1/audit/checkpoint', undefined],
      ['POST', '/v1/policies/reload', undefined],
    ] as const) {
      for (const headers of [{}, bearer('not-a-credential'), bearer(`${PEP_SECRET}x`)]) {
        const r = await call(method, path, body, headers);
        assert.equal(r.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.equal(typeof r.body.error, 'string');
      }
    }
    const stillUsable = await call('POST', '/v1/decide', {
      token,
      ...ledgerRead,
      agent: undefined,
    });
    assert.equal(stillUsable.body.decision, 'allow', 'the token was not revoked');
    const a = await call('GET', `/v1/approvals/${id}`, undefined, admin);
    assert.equal(a.body.status, 'pending', 'the approval was not answered');
  });

  it('refuses an authenticated caller whom policy does not permit (403, with the policies), and records the refusal', async () => {
    const { call, idp, data, admin } = local;
    const bob = bearer(await idp.token('bob')); // an intern
    const refused = await call('GET', '/v1/audit/records', undefined, bob);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error as string, /user bob may not readAudit ControlPlane::"audit"/);
    assert.ok(Array.isArray(refused.body.reasons));
    assert.match(refused.body.decisionId as string, /^[0-9a-f-]{36}$/);
    const agent = bearer(issueToken(data, 'alice', 'ledger-bot'));
    assert.equal(
      (await call('POST', '/v1/token/revoke', { agent: 'analyst-bot' }, agent)).status,
      403,
    );
    assert.equal((await call('POST', '/v1/policies/reload', undefined, bob)).status, 403);
    // A PEP's credential serves decisions only.
    const pep = await call('GET', '/v1/audit/records', undefined, bearer(PEP_SECRET));
    assert.equal(pep.status, 403);

    // carol (SRE) may read the log; the admin may too. Both reads, and bob's refusal, are in it.
    const carol = await call(
      'GET',
      '/v1/audit/records?limit=1000',
      undefined,
      bearer(await idp.token('carol')),
    );
    assert.equal(carol.status, 200);
    const records = (
      (await call('GET', '/v1/audit/records?limit=1000', undefined, admin)).body.records as {
        id: string;
        user?: string;
        action: string;
        decision: string;
        pep?: string;
      }[]
    ).filter((r) => r.action === 'readAudit');
    assert.ok(
      records.some(
        (r) => r.id === refused.body.decisionId && r.user === 'bob' && r.decision === 'deny',
      ),
    );
    assert.ok(records.some((r) => r.user === 'carol' && r.decision === 'allow'));
    assert.ok(records.every((r) => r.pep === 'control'));
  });

  it('reloads the policies for a permitted caller', async () => {
    const r = await local.call('POST', '/v1/policies/reload', undefined, local.admin);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.policyVersion as string, /^sha256:/);
  });

  it('an identity provider token cannot name the local admin', async () => {
    const r = await local.call(
      'GET',
      '/v1/audit/records',
      undefined,
      bearer(await local.idp.token('cordon-admin')),
    );
    assert.equal(r.status, 401);
  });

  it('a delegation token decides as its own agent: another agent or token in the body is not', async () => {
    const { call, data, idp } = local;
    const token = issueToken(data, 'alice', 'ledger-bot');
    const own = await call(
      'POST',
      '/v1/decide',
      { ...ledgerRead, agent: undefined },
      bearer(token),
    );
    assert.equal(own.body.decision, 'allow');
    const posing = await call(
      'POST',
      '/v1/decide',
      { ...ledgerRead, agent: 'director-agent' },
      bearer(token),
    );
    assert.equal(posing.body.decision, 'deny');
    assert.equal(
      (posing.body.reasons as { policy: string }[])[0]!.policy,
      'cordon/identity-conflict',
    );
    const other = issueToken(data, 'carol', 'director-agent');
    const swapped = await call(
      'POST',
      '/v1/decide',
      { ...ledgerRead, agent: undefined, token: other },
      bearer(token),
    );
    assert.equal(swapped.status, 400);
    const person = await call('POST', '/v1/decide', ledgerRead, bearer(await idp.token('alice')));
    assert.equal(person.status, 403, 'people do not ask for decisions');
  });

  it('with auth.required, a loopback listener refuses anonymous decisions too', async () => {
    const strict = await start({ auth: { required: true } });
    assert.equal((await strict.call('POST', '/v1/decide', ledgerRead)).status, 401);
    assert.equal((await strict.call('GET', '/metrics')).status, 401);
    const viaPep = await strict.call('POST', '/v1/decide', ledgerRead, bearer(PEP_SECRET));
    assert.equal(viaPep.body.decision, 'allow');
  });
});

describe('a listener on a non-loopback address', () => {
  it('requires a credential for decisions: anonymous calls are refused, PEPs and agents served', async () => {
    const open = await start({ host: '0.0.0.0' });
    const { call, data } = open;
    const anonymous = await call('POST', '/v1/decide', ledgerRead);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.body.error as string, /authentication required on this listener/);
    const authzen = await call('POST', '/access/v1/evaluation', {
      subject: { type: 'Agent', id: 'ledger-bot' },
      action: { name: 'invokeTool' },
      resource: { type: 'Tool', id: 'erp/read_ledger' },
    });
    assert.equal(authzen.status, 401);
    assert.equal((await call('GET', '/metrics')).status, 401);
    const pep = await call('POST', '/v1/decide', ledgerRead, bearer(PEP_SECRET));
    assert.equal(pep.body.decision, 'allow');
    const token = issueToken(data, 'alice', 'ledger-bot');
    const agent = await call(
      'POST',
      '/v1/decide',
      { ...ledgerRead, agent: undefined },
      bearer(token),
    );
    assert.equal(agent.body.decision, 'allow');
    const health = await call('GET', '/healthz');
    assert.deepEqual(health.body, { status: 'ok' }, 'liveness only: no versions, no counts');
  });
});

describe('route classes', () => {
  it('a route registered without an authentication class stops the server from starting', async () => {
    const metrics = new Metrics();
    const logger = pino({ level: 'silent' });
    const app = buildApp({
      decisions: new DecisionService(await exampleEngine(), metrics, logger),
      metrics,
      logger,
      auth: testAuth().auth,
    });
    app.get('/v1/forgotten', async () => ({ secret: true }));
    await assert.rejects(async () => {
      await app.ready();
    }, /routes without an authentication class: GET \/v1\/forgotten/);
  });
});
