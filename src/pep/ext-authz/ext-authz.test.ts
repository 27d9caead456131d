import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request as undiciRequest } from 'undici';
import { configSchema } from '../../config/config.js';
import { startServer, type RunningServer } from '../../runtime/start.js';
import { adminHeader } from '../../testing/auth.js';
import {
  authzClient,
  envoyCheckRequest,
  headerRecord,
  rawAuthzClient,
  type AuthzClient,
  type CheckResponse,
} from '../../testing/ext-authz.js';
import { agent, entities, tempDir, user, writeTree } from '../../testing/fixtures.js';
import { issueToken } from '../../testing/mcp.js';

const POLICIES = {
  'entities.json': entities([agent('agent-a'), agent('ci-bot'), agent('jwt-agent'), user('alice')]),
  'issues.cedar': `
@id("admin-reads-audit")
permit(principal in Role::"cordon-admin", action == Action::"readAudit", resource);

@id("read-issues")
permit(principal, action == Action::"readData", resource is Issue)
when {
  principal == Agent::"agent-a" || principal == Agent::"ci-bot" ||
  principal == Agent::"jwt-agent" || principal == User::"alice"
};

@id("no-secret-repo")
forbid(principal, action, resource == Issue::"acme/secret#1");

@id("delete-issues")
permit(principal == Agent::"agent-a", action == Action::"deleteData", resource is Issue);

@id("delete-needs-approval")
@outcome("require_approval")
forbid(principal, action == Action::"deleteData", resource is Issue);

@id("reports-redacted")
@redact("secrets")
permit(principal == Agent::"agent-a", action == Action::"readData", resource is Report);

@id("urgent-only-by-header")
forbid(principal, action, resource is Report)
when { context.http has headers && context.http.headers has "x-priority" && context.http.headers["x-priority"] == "low" };

@id("pods-in-default")
permit(principal == Agent::"agent-a", action == Action::"k8s:get", resource is KubernetesResource)
when { context.kubernetes.namespace == "default" };
`,
};

const EXT_AUTHZ = {
  grpc: { listen: '127.0.0.1:0' },
  http: { listen: '127.0.0.1:0', pathPrefix: '/ext-authz' },
  identity: {
    agent: [
      { bearer: {} },
      { spiffe: { trustDomain: 'example.org', path: '/ns/{ns}/sa/{agent}' } },
      { jwt: { payloadKey: 'jwt_payload', claim: 'azp' } },
      { header: 'x-agent-id' },
    ],
    user: [{ header: 'x-user-id' }],
  },
  routes: [
    {
      match: {
        method: 'GET',
        path: '/repos/{owner}/{repo}/issues/{number}',
        host: 'api.example.com',
      },
      action: 'readData',
      resource: { type: 'Issue', id: '{owner}/{repo}#{number}' },
    },
    {
      match: { method: 'DELETE', path: '/repos/{owner}/{repo}/issues/{number}' },
      action: 'deleteData',
      resource: { type: 'Issue', id: '{owner}/{repo}#{number}' },
    },
    {
      match: { method: ['GET', 'HEAD'], path: '/reports/{name}' },
      action: 'readData',
      resource: { type: 'Report', id: '{name}' },
    },
  ],
  context: { headers: ['x-priority'], query: true },
  kubernetes: { agent: 'system:serviceaccount:{namespace}:{agent}' },
};

const PEP_SECRET = 'the-envoy-sidecar-credential';

async function start(extra: Record<string, unknown> = {}) {
  const data = await tempDir('cordon-ext-authz-');
  const policies = join(data, 'policies');
  await writeTree(policies, POLICIES);
  const pepFile = join(data, 'envoy.credential');
  await writeFile(pepFile, `${PEP_SECRET}\n`, { mode: 0o600 });
  const server = await startServer(
    configSchema.parse({
      policies,
      data,
      port: 0,
      watch: false,
      log: { level: 'silent' },
      baselines: { enabled: false },
      extAuthz: EXT_AUTHZ,
      ...extra,
      auth: { peps: [{ name: 'envoy', credentialFile: pepFile }], ...(extra.auth as object) },
    }),
  );
  return { server, data };
}

const denied = (r: CheckResponse) => {
  assert.equal(r.http_response, 'denied_response', JSON.stringify(r));
  return {
    code: r.status?.code,
    status: Number(
      typeof r.denied_response?.status?.code === 'string'
        ? STATUS_NAMES[r.denied_response.status.code]
        : r.denied_response?.status?.code,
    ),
    headers: headerRecord(r.denied_response?.headers),
    body: JSON.parse(r.denied_response?.body ?? '{}') as Record<string, unknown>,
  };
};

/** envoy.type.v3.StatusCode names proto-loader gives back (enums: String). */
const STATUS_NAMES: Record<string, number> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  ServiceUnavailable: 503,
};

describe('Envoy ext_authz over gRPC (envoy.service.auth.v3.Authorization/Check)', () => {
  let server: RunningServer;
  let data: string;
  let client: AuthzClient;
  before(async () => {
    ({ server, data } = await start());
    client = authzClient(server.extAuthz!.grpcPort!);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  it('allows a mapped request, sets the decision id upstream and records it with pep ext_authz', async () => {
    const r = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/repos/acme/app/issues/7?expand=comments',
        headers: { 'x-agent-id': 'agent-a', 'x-cordon-obligations': '[]' },
      }),
    );
    assert.equal(r.status?.code ?? 0, 0);
    assert.equal(r.http_response, 'ok_response');
    const upstream = headerRecord(r.ok_response?.headers);
    const id = upstream['x-cordon-decision-id'];
    assert.ok(id);
    // A client's own x-cordon-obligations must not reach the upstream: Envoy removes it.
    assert.ok(r.ok_response?.headers_to_remove?.includes('x-cordon-obligations'));
    assert.equal(headerRecord(r.ok_response?.response_headers_to_add)['x-cordon-decision-id'], id);
    const res = await fetch(`${server.url}/v1/audit/records?limit=1000`, {
      headers: await adminHeader(data),
    });
    const { records } = (await res.json()) as { records: Record<string, unknown>[] };
    const record = records.find((x) => x.id === id);
    assert.ok(record, 'the decision is in the audit log');
    assert.equal(record.pep, 'ext_authz');
    assert.equal(record.agent, 'agent-a');
    assert.deepEqual(record.resource, { type: 'Issue', id: 'acme/app#7' });
    assert.deepEqual((record.context as { http: unknown }).http, {
      method: 'GET',
      path: '/repos/acme/app/issues/7',
      host: 'api.example.com',
      scheme: 'https',
      headers: {},
      query: { expand: 'comments' },
    });
  });

  it('puts path parameters in the resource id: a forbidden repository is denied with reasons', async () => {
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/repos/acme/secret/issues/1',
          headers: { 'x-agent-id': 'agent-a' },
        }),
      ),
    );
    assert.equal(d.code, 7); // PERMISSION_DENIED
    assert.equal(d.status, 403);
    assert.equal(d.headers['content-type'], 'application/json');
    assert.equal(d.body.decision, 'deny');
    assert.equal(d.headers['x-cordon-decision-id'], d.body.decisionId);
    assert.deepEqual(
      (d.body.reasons as { policy: string }[]).map((x) => x.policy),
      ['no-secret-repo'],
    );
  });

  it('denies with 401 when no source names an agent', async () => {
    const d = denied(
      await client.check(envoyCheckRequest({ method: 'GET', path: '/repos/acme/app/issues/7' })),
    );
    assert.equal(d.code, 16); // UNAUTHENTICATED
    assert.equal(d.status, 401);
    assert.equal(d.headers['www-authenticate'], 'Bearer');
    assert.ok(d.body.decisionId, 'the refused attempt is recorded too');
  });

  it('verifies a delegation token in Authorization; a forged one is a 401', async () => {
    const token = issueToken(data, 'alice', 'agent-a');
    const ok = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/repos/acme/app/issues/7',
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    assert.equal(ok.http_response, 'ok_response', JSON.stringify(ok));
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${Buffer.from('not the signature').toString('base64url')}`;
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/repos/acme/app/issues/7',
          headers: { authorization: `Bearer ${forged}` },
        }),
      ),
    );
    assert.equal(d.status, 401);
    assert.match(JSON.stringify(d.body.reasons), /cordon\/invalid-token/);
  });

  it('names the agent from the peer certificate SPIFFE ID, only in the configured trust domain', async () => {
    const ok = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/repos/acme/app/issues/7',
        principal: 'spiffe://example.org/ns/ci/sa/ci-bot',
      }),
    );
    assert.equal(ok.http_response, 'ok_response', JSON.stringify(ok));
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/repos/acme/app/issues/7',
          principal: 'spiffe://example.net/ns/ci/sa/ci-bot',
        }),
      ),
    );
    assert.equal(d.status, 401);
    // Over gRPC the peer is source.principal only: a client's own XFCC header names nobody.
    const forged = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/repos/acme/app/issues/7',
          headers: { 'x-forwarded-client-cert': 'URI=spiffe://example.org/ns/ci/sa/ci-bot' },
        }),
      ),
    );
    assert.equal(forged.status, 401);
  });

  it('names the agent from the JWT payload jwt_authn put in metadata', async () => {
    const ok = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/repos/acme/app/issues/7',
        jwtPayload: { key: 'jwt_payload', claims: { iss: 'https://idp', azp: 'jwt-agent' } },
      }),
    );
    assert.equal(ok.http_response, 'ok_response', JSON.stringify(ok));
  });

  it('reads headers sent as header_map with raw values (encode_raw_headers)', async () => {
    const request = envoyCheckRequest({ method: 'GET', path: '/repos/acme/app/issues/7' }) as {
      attributes: { request: { http: Record<string, unknown> } };
    };
    const http = request.attributes.request.http;
    const headers = http.headers as Record<string, string>;
    delete http.headers;
    http.header_map = {
      headers: [
        ...Object.entries(headers).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })),
        { key: 'x-agent-id', raw_value: Buffer.from('agent-a') },
      ],
    };
    const r = await client.check(request);
    assert.equal(r.http_response, 'ok_response', JSON.stringify(r));
  });

  it("leaves an identity provider's JWT in Authorization to the jwt source", async () => {
    const idpJwt = [
      Buffer.from('{"alg":"RS256"}').toString('base64url'),
      Buffer.from('{"iss":"https://idp","azp":"jwt-agent"}').toString('base64url'),
      'c2lnbmF0dXJl',
    ].join('.');
    const r = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/repos/acme/app/issues/7',
        headers: { authorization: `Bearer ${idpJwt}` },
        jwtPayload: { key: 'jwt_payload', claims: { iss: 'https://idp', azp: 'jwt-agent' } },
      }),
    );
    assert.equal(r.http_response, 'ok_response', JSON.stringify(r));
  });

  it('answers require_approval with a 403 naming the approval request', async () => {
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'DELETE',
          path: '/repos/acme/app/issues/7',
          headers: { 'x-agent-id': 'agent-a' },
        }),
      ),
    );
    assert.equal(d.status, 403);
    assert.equal(d.body.decision, 'require_approval');
    const approval = d.body.approval as { id: string; status: string };
    assert.equal(approval.status, 'pending');
    assert.equal(d.headers['x-cordon-approval-id'], approval.id);
  });

  it('passes redaction obligations upstream in x-cordon-obligations', async () => {
    const r = await client.check(
      envoyCheckRequest({
        method: 'GET',
        path: '/reports/q3',
        headers: { 'x-agent-id': 'agent-a' },
      }),
    );
    assert.equal(r.http_response, 'ok_response', JSON.stringify(r));
    const obligations = JSON.parse(
      headerRecord(r.ok_response?.headers)['x-cordon-obligations'] ?? 'null',
    ) as { type: string; targets: string[] }[];
    assert.deepEqual(
      obligations.map((o) => [o.type, o.targets]),
      [['redact', ['secrets']]],
    );
    assert.ok(!r.ok_response?.headers_to_remove?.includes('x-cordon-obligations'));
  });

  it('puts allowlisted headers in context.http.headers for policies', async () => {
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/reports/q3',
          headers: { 'x-agent-id': 'agent-a', 'x-priority': 'low' },
        }),
      ),
    );
    assert.deepEqual(
      (d.body.reasons as { policy: string }[]).map((x) => x.policy),
      ['urgent-only-by-header'],
    );
  });

  it('denies a request no route maps, without deciding', async () => {
    const d = denied(
      await client.check(
        envoyCheckRequest({ method: 'POST', path: '/admin', headers: { 'x-agent-id': 'agent-a' } }),
      ),
    );
    assert.equal(d.status, 403);
    assert.match(String(d.body.error), /no route/);
  });

  it('denies malformed CheckRequests with a 400 instead of failing the call', async () => {
    for (const [request, why] of [
      [{}, /no attributes/],
      [{ attributes: { source: {} } }, /no request.http/],
      [{ attributes: { request: { http: { path: '/x' } } } }, /no request.http.method/],
    ] as const) {
      const d = denied(await client.check(request));
      assert.equal(d.code, 3); // INVALID_ARGUMENT
      assert.equal(d.status, 400);
      assert.match(String(d.body.error), why);
    }
  });

  it('denies bytes that are not a CheckRequest with a CheckResponse, not an RPC error', async () => {
    const raw = rawAuthzClient(server.extAuthz!.grpcPort!);
    try {
      // Field 1 (attributes), length-delimited, claiming 127 bytes that never come.
      const d = denied(raw.decode(await raw.send(Buffer.from([0x0a, 0x7f, 0x01]))));
      assert.equal(d.code, 3);
      assert.equal(d.status, 400);
      assert.match(String(d.body.error), /could not be decoded/);
    } finally {
      raw.close();
    }
  });

  it('refuses paths that could name another resource than the upstream sees', async () => {
    for (const [path, why] of [
      ['/repos/acme/app/issues/../../secret/issues/1', /\. or \.\. segment/],
      ['/repos/acme/%2e%2e/issues/1', /\. or \.\. segment/],
      ['/repos/acme%2Fsecret/x/issues/1', /encoded \//],
      // Upstreams on Windows, and some routers, read a backslash as a separator.
      ['/repos/acme/app/issues/..%5C..%5Csecret', /backslash/],
      ['/repos/acme/app/issues/..\\..\\secret', /backslash/],
      // Servlet containers drop ;params: the upstream would see /repos/acme/app/issues/7.
      ['/repos/acme/app;x/issues/7', /path parameter/],
      ['/repos//app/issues/7', /empty segment/],
      ['/repos/acme/app/issues/%E0%A4%A', /percent-encoding/],
      ['/repos/acme/app/issues/7?expand=a&expand=b', /repeated/],
    ] as const) {
      const d = denied(
        await client.check(
          envoyCheckRequest({ method: 'GET', path, headers: { 'x-agent-id': 'agent-a' } }),
        ),
      );
      assert.equal(d.status, 400, path);
      assert.match(String(d.body.error), why, path);
    }
  });

  it('matches the host: the same path on another host maps to no route', async () => {
    const d = denied(
      await client.check(
        envoyCheckRequest({
          method: 'GET',
          path: '/repos/acme/app/issues/7',
          host: 'evil.example.com',
          headers: { 'x-agent-id': 'agent-a' },
        }),
      ),
    );
    assert.equal(d.status, 403);
    assert.match(String(d.body.error), /no route/);
  });
});

describe('Envoy ext_authz over HTTP (http_service)', () => {
  let server: RunningServer;
  let base: string;
  before(async () => {
    ({ server } = await start());
    base = `http://127.0.0.1:${server.extAuthz!.httpPort!}`;
  });
  after(async () => server?.close());

  // As Envoy's http_service sends it: the original method, Host, and path after the prefix.
  const check = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const res = await undiciRequest(`${base}/ext-authz${path}`, {
      method: method as 'GET',
      headers: { host: 'api.example.com', ...headers },
    });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      header: (name: string) => res.headers[name] as string | undefined,
      json: () => JSON.parse(text) as Record<string, unknown>,
    };
  };

  it('answers 200 with the headers for the upstream when allowed', async () => {
    const res = await check('GET', '/repos/acme/app/issues/7', { 'x-agent-id': 'agent-a' });
    assert.equal(res.status, 200);
    assert.ok(res.header('x-cordon-decision-id'));
    assert.match(res.header('x-envoy-auth-headers-to-remove') ?? '', /x-cordon-obligations/);
  });

  it('forwards the denial status and a JSON body', async () => {
    const res = await check('GET', '/repos/acme/secret/issues/1', { 'x-agent-id': 'agent-a' });
    assert.equal(res.status, 403);
    const body = res.json();
    assert.equal(body.decision, 'deny');
    assert.equal(res.header('x-cordon-decision-id'), body.decisionId);
  });

  it('answers 401 without an identity and 400 for a malformed path', async () => {
    assert.equal((await check('GET', '/repos/acme/app/issues/7')).status, 401);
    const res = await check('GET', '/repos/acme%2Fx/app/issues/7', { 'x-agent-id': 'agent-a' });
    assert.equal(res.status, 400);
  });

  it("reads the SPIFFE ID from Envoy's x-forwarded-client-cert", async () => {
    const res = await check('GET', '/repos/acme/app/issues/7', {
      'x-forwarded-client-cert':
        'By=spiffe://example.org/ns/default/sa/api;Hash=abc;URI=spiffe://example.org/ns/ci/sa/ci-bot',
    });
    assert.equal(res.status, 200);
  });

  it('denies what is not under the path prefix', async () => {
    const res = await fetch(`${base}/repos/acme/app/issues/7`, {
      headers: { 'x-agent-id': 'agent-a' },
    });
    assert.equal(res.status, 403);
  });

  it('a HEAD check is answered too (the original method is forwarded)', async () => {
    const res = await check('HEAD', '/reports/q3', { 'x-agent-id': 'agent-a' });
    assert.equal(res.status, 200);
  });
});

describe('Kubernetes webhook authorizer (SubjectAccessReview)', () => {
  let server: RunningServer;
  let url: string;
  before(async () => {
    ({ server } = await start());
    url = `http://127.0.0.1:${server.extAuthz!.httpPort!}/kubernetes/authorize`;
  });
  after(async () => server?.close());

  // The shape of the Kubernetes docs' example (Webhook Mode), for a service account.
  const review = (user: string, verb: string, namespace: string) => ({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      resourceAttributes: { namespace, verb, group: '', version: 'v1', resource: 'pods' },
      user,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
      uid: '6f5d2a1c',
    },
  });
  const post = async (body: unknown) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        kind: string;
        apiVersion: string;
        spec: { user: string };
        status: { allowed: boolean; denied?: boolean; reason: string };
      },
    };
  };

  it('allows what the policies permit for the service account named by the username', async () => {
    const r = await post(review('system:serviceaccount:agents:agent-a', 'get', 'default'));
    assert.equal(r.status, 200);
    assert.equal(r.body.kind, 'SubjectAccessReview');
    assert.equal(r.body.apiVersion, 'authorization.k8s.io/v1');
    assert.equal(r.body.status.allowed, true);
    assert.equal(r.body.spec.user, 'system:serviceaccount:agents:agent-a');
  });

  it('denies (final) what they do not, with the reason', async () => {
    const r = await post(review('system:serviceaccount:agents:agent-a', 'delete', 'default'));
    assert.deepEqual(
      { allowed: r.body.status.allowed, denied: r.body.status.denied },
      { allowed: false, denied: true },
    );
    assert.match(r.body.status.reason, /no permit policy/);
    const other = await post(review('system:serviceaccount:agents:agent-a', 'get', 'kube-system'));
    assert.equal(other.body.status.allowed, false);
  });

  it('denies a username the agent pattern does not match', async () => {
    const r = await post(review('jane', 'get', 'default'));
    assert.equal(r.body.status.allowed, false);
    assert.equal(r.body.status.denied, true);
  });

  it('refuses a body that is not a SubjectAccessReview with a 400', async () => {
    assert.equal(
      (await post({ kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1' })).status,
      400,
    );
    const both = review('system:serviceaccount:agents:agent-a', 'get', 'default');
    (both.spec as Record<string, unknown>).nonResourceAttributes = {
      path: '/healthz',
      verb: 'get',
    };
    assert.equal((await post(both)).status, 400);
    const res = await fetch(url, { method: 'POST', body: '{not json' });
    assert.equal(res.status, 400);
  });
});

describe('who may ask ext_authz', () => {
  let server: RunningServer;
  let client: AuthzClient;
  before(async () => {
    ({ server } = await start({ auth: { required: true } }));
    client = authzClient(server.extAuthz!.grpcPort!);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const request = envoyCheckRequest({
    method: 'GET',
    path: '/repos/acme/app/issues/7',
    headers: { 'x-agent-id': 'agent-a' },
  });

  it('denies a caller without a credential when authentication is required', async () => {
    const d = denied(await client.check(request));
    assert.equal(d.status, 403);
    assert.match(String(d.body.error), /authentication required/);
    const wrong = denied(
      await client.check(request, { 'x-cordon-credential': 'Bearer not-the-credential-at-all' }),
    );
    assert.match(String(wrong.body.error), /not one this server knows/);
  });

  it("answers a caller presenting a PEP's credential in x-cordon-credential", async () => {
    const r = await client.check(request, { 'x-cordon-credential': `Bearer ${PEP_SECRET}` });
    assert.equal(r.http_response, 'ok_response', JSON.stringify(r));
  });

  it('requires the credential on the HTTP variant and the Kubernetes webhook too', async () => {
    const base = `http://127.0.0.1:${server.extAuthz!.httpPort!}`;
    const url = `${base}/ext-authz/repos/acme/app/issues/7`;
    const plain = await undiciRequest(url, {
      headers: { host: 'api.example.com', 'x-agent-id': 'agent-a' },
    });
    await plain.body.dump();
    assert.equal(plain.statusCode, 403);
    const withCredential = await undiciRequest(url, {
      headers: {
        host: 'api.example.com',
        'x-agent-id': 'agent-a',
        'x-cordon-credential': PEP_SECRET,
      },
    });
    await withCredential.body.dump();
    assert.equal(withCredential.statusCode, 200);
    const sar = await fetch(`${base}/kubernetes/authorize`, { method: 'POST', body: '{}' });
    assert.equal(sar.status, 401);
  });
});
