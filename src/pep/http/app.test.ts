import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { exampleEngine } from '../../testing/fixtures.js';
import { buildApp } from './app.js';
import { trustedForRequest } from './resource-trust.js';
import { testAuth } from '../../testing/auth.js';
import { Secret } from '../../identity/credentials.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  app = buildApp({
    decisions: new DecisionService(await exampleEngine(), metrics, logger),
    metrics,
    logger,
    bodyLimit: 64 * 1024,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(() => app.close());

const post = async (
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => {
  const res = await fetch(base + path, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

const drop = { type: 'Tool', id: 'postgres/drop_table' };

describe('POST /v1/decide', () => {
  it('decides on the path the id names, not the one the caller claims, and says so', async () => {
    const { status, json } = await post('/v1/decide', {
      agent: 'analyst-bot',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/shadow', attrs: { path: '/workspace/analyst-1/a' } },
    });
    assert.equal(status, 200);
    assert.equal(json.decision, 'deny');
    assert.deepEqual(json.ignored, [
      { field: 'resource.attrs.path', reason: 'derived from the FilePath id, which wins' },
    ]);
    // Trust is the adapter's to grant: a caller naming it in the body is refused.
    const spoof = await post('/v1/decide', {
      agent: 'analyst-bot',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/shadow' },
      trustedFor: ['FilePath'],
    });
    assert.equal(spoof.status, 400);
  });

  it('answers with the contract shape', async () => {
    const { status, json } = await post('/v1/decide', {
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/read_ledger' },
    });
    assert.equal(status, 200);
    assert.equal(json.decision, 'allow');
    assert.deepEqual(Object.keys(json).slice(0, 6), [
      'decision',
      'reasons',
      'obligations',
      'risk',
      'policyVersion',
      'decisionId',
    ]);
    assert.deepEqual(json.reasons, [
      {
        policy: 'finance-readonly-tools',
        effect: 'permit',
        annotations: { id: 'finance-readonly-tools' },
        principal: 'agent',
      },
    ]);
    assert.deepEqual(json.risk, { score: 0, level: 'low' });
  });

  it('denies the confused deputy and gates the irreversible action', async () => {
    assert.equal(
      (
        await post('/v1/decide', {
          agent: 'director-agent',
          user: 'bob',
          action: 'invokeTool',
          resource: drop,
        })
      ).json.decision,
      'deny',
    );
    assert.equal(
      (
        await post('/v1/decide', {
          agent: 'director-agent',
          user: 'carol',
          action: 'invokeTool',
          resource: drop,
        })
      ).json.decision,
      'require_approval',
    );
  });

  it('refuses resource attributes that contradict the schema, naming the attribute', async () => {
    const asBob = (attrs: Record<string, unknown>, id = 'wiki/search') =>
      post('/v1/decide', {
        agent: 'director-agent',
        user: 'bob',
        action: 'invokeTool',
        resource: { type: 'Tool', id, attrs },
      });
    const ok = { readOnly: true, irreversible: false, destructive: false };
    const wrongType = await asBob({ ...ok, destructive: 'yes' });
    assert.equal(wrongType.status, 400);
    assert.equal(
      wrongType.json.error,
      'resource attributes contradict the schema: resource.attrs.destructive must be a boolean (Bool), got "yes"',
    );
    const undeclared = await asBob({ ...ok, colour: 'red' });
    assert.equal(undeclared.status, 400);
    assert.match(
      undeclared.json.error as string,
      /resource\.attrs\.colour is not declared in the schema \(declared: .*destructive/,
    );
    // A missing required attribute would make every policy reading it error: said up front.
    const missing = await asBob({ readOnly: true, irreversible: false });
    assert.equal(missing.status, 400);
    assert.match(
      missing.json.error as string,
      /resource\.attrs\.destructive is missing: the schema requires a boolean \(Bool\)/,
    );
    // Correct attributes decide, and the policies read them.
    const allowed = await asBob(ok);
    assert.equal(allowed.status, 200, JSON.stringify(allowed.json));
    assert.doesNotMatch(JSON.stringify(allowed.json.reasons), /interns-no-destructive|error/i);
    const destructive = await asBob({ ...ok, destructive: true });
    assert.equal(destructive.status, 200);
    assert.equal(destructive.json.decision, 'deny');
    assert.match(JSON.stringify(destructive.json.reasons), /interns-no-destructive/);
    // A listed tool's attributes come from entities.json: the caller's are ignored, not refused.
    const listed = await asBob({ destructive: 'yes' }, 'postgres/drop_table');
    assert.equal(listed.status, 200, JSON.stringify(listed.json));
    assert.deepEqual(listed.json.ignored, [
      {
        field: 'resource.attrs.destructive',
        reason: 'entities.json lists this entity: its attributes and parents apply',
      },
    ]);
    // Derived attributes win (and are reported), whatever their claimed type.
    const derived = await post('/v1/decide', {
      agent: 'analyst-bot',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/hosts', attrs: { path: 42 } },
    });
    assert.equal(derived.status, 200);
    const undeclaredOnPath = await post('/v1/decide', {
      agent: 'analyst-bot',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/hosts', attrs: { owner: 'root' } },
    });
    assert.equal(undeclaredOnPath.status, 400);
    assert.match(undeclaredOnPath.json.error as string, /resource\.attrs\.owner is not declared/);
  });

  it('rejects malformed requests with 400 and a clear message', async () => {
    const cases: [unknown, RegExp][] = [
      ['{"agent": ', /JSON/i],
      [{ action: 'invokeTool', resource: drop }, /agent: an acting agent/],
      [{ agent: 'a', action: 'invokeTool' }, /resource: /],
      [{ agent: 'a', action: 'invokeTool', resource: { type: 'Tool' } }, /resource\.id/],
      [{ agent: 'a', action: 'invokeTool', resource: drop, resouce: 1 }, /resouce/],
      [
        {
          agent: 'a',
          action: 'invokeTool',
          resource: drop,
          context: { approval: { granted: true } },
        },
        /context\.approval: "approval" is set by Cordon/,
      ],
      [
        { agent: 'a', action: 'invokeTool', resource: drop, context: { delegation: { depth: 0 } } },
        /context\.delegation/,
      ],
      ['{"__proto__": {"x": 1}, "agent": "a"}', /.+/],
      [[1, 2, 3], /.+/],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await post('/v1/decide', body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.match(String(json.error), message);
      assert.ok(!String(json.error).includes('    at '), 'no stack trace');
    }
  });

  it('refuses oversized bodies and wrong content types without a 500', async () => {
    const big = {
      agent: 'a',
      action: 'invokeTool',
      resource: drop,
      context: { pad: 'x'.repeat(100 * 1024) },
    };
    assert.equal((await post('/v1/decide', big)).status, 413);
    assert.equal(
      (await post('/v1/decide', 'agent=a', { 'content-type': 'application/x-www-form-urlencoded' }))
        .status,
      415,
    );
    const text = await post('/v1/decide', '{"agent": "a"}', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.match(String(text.json.error), /text\/plain/);
  });

  it('survives fuzzed bodies: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.record({
            agent: fc.string(),
            action: fc.string(),
            resource: fc.anything(),
            context: fc.object(),
          }),
        ),
        async (body) => {
          const { status } = await post(
            '/v1/decide',
            typeof body === 'string' ? body : JSON.stringify(body),
          );
          return status < 500;
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('AuthZEN', () => {
  it('evaluates an Agent subject with the user in its properties', async () => {
    const { status, json } = await post('/access/v1/evaluation', {
      subject: { type: 'Agent', id: 'director-agent', properties: { user: 'bob' } },
      action: { name: 'invokeTool' },
      resource: { type: 'Tool', id: 'postgres/query' },
    });
    assert.equal(status, 200);
    assert.equal(json.decision, true);
    assert.equal((json.context as { outcome: string }).outcome, 'allow');
  });

  it('evaluates a User subject acting through an agent, and refuses the side door', async () => {
    const { json } = await post('/access/v1/evaluation', {
      subject: { type: 'User', id: 'bob', properties: { agent: 'director-agent' } },
      action: { name: 'invokeTool' },
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    });
    assert.equal(json.decision, false);
    assert.equal((json.context as { outcome: string }).outcome, 'deny');
  });

  it('believes resource parents only from a caller trusted for the type, and says so', async () => {
    const body = {
      subject: { type: 'Agent', id: 'analyst-bot' },
      action: { name: 'connectNetwork' },
      resource: {
        type: 'NetworkDestination',
        id: 'llm.internal:443',
        properties: { parents: [{ type: 'DestinationSet', id: 'approved-llm-endpoints' }] },
      },
    };
    // An arbitrary caller cannot put a host into an allowed set.
    const { json } = await post('/access/v1/evaluation', body);
    assert.equal(json.decision, false);
    assert.deepEqual(
      (json.context as { ignored: { field: string }[] }).ignored.map((i) => i.field),
      ['resource.parents'],
    );
    // An enforcement point the configuration trusts for NetworkDestination can, once it has
    // proved who it is with its credential.
    const metrics = new Metrics();
    const logger = pino({ level: 'silent' });
    const secret = 'the-egress-pep-credential';
    const trusting = buildApp({
      decisions: new DecisionService(await exampleEngine(), metrics, logger),
      metrics,
      logger,
      auth: testAuth(undefined, { peps: [{ name: 'egress', secret: new Secret(secret) }] }).auth,
      trustedFor: trustedForRequest({ NetworkDestination: ['egress'] }),
    });
    try {
      const url = '/access/v1/evaluation';
      const res = await trusting.inject({
        method: 'POST',
        url,
        body,
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal(res.json().decision, true);
      assert.equal(res.json().context.ignored, undefined);
      const forged = await trusting.inject({
        method: 'POST',
        url,
        body,
        headers: { authorization: `Bearer ${secret}-not` },
      });
      assert.equal(forged.statusCode, 401, 'naming the PEP is not being it');
    } finally {
      await trusting.close();
    }
  });

  it('runs a batch with defaults and the short-circuit semantics', async () => {
    const body = {
      subject: { type: 'Agent', id: 'analyst-bot' },
      action: { name: 'readFile' },
      evaluations: [
        { resource: { type: 'FilePath', id: '/workspace/analyst-1/a' } },
        { resource: { type: 'FilePath', id: '/etc/shadow' } },
        { resource: { type: 'FilePath', id: '/workspace/analyst-1/b' } },
      ],
    };
    const all = await post('/access/v1/evaluations', body);
    assert.deepEqual(
      (all.json.evaluations as { decision: boolean }[]).map((e) => e.decision),
      [true, false, true],
    );
    const first = await post('/access/v1/evaluations', {
      ...body,
      options: { evaluations_semantic: 'deny_on_first_deny' },
    });
    assert.deepEqual(
      (first.json.evaluations as { decision: boolean }[]).map((e) => e.decision),
      [true, false],
    );
  });

  it('rejects subjects it cannot map with 400', async () => {
    const r1 = await post('/access/v1/evaluation', {
      subject: { type: 'User', id: 'bob' },
      action: { name: 'x' },
      resource: { type: 'T', id: '1' },
    });
    assert.equal(r1.status, 400);
    assert.match(String(r1.json.error), /properties\.agent/);
    const r2 = await post('/access/v1/evaluation', {
      subject: { type: 'Robot', id: 'x' },
      action: { name: 'x' },
      resource: { type: 'T', id: '1' },
    });
    assert.equal(r2.status, 400);
  });
});

describe('health and metrics', () => {
  it('reports the serving policy version', async () => {
    const res = await fetch(`${base}/healthz`);
    const json = (await res.json()) as { status: string; policyVersion: string; policies: number };
    assert.equal(json.status, 'ok');
    assert.match(json.policyVersion, /^sha256:/);
    assert.equal(json.policies, (await exampleEngine()).policies.size);
  });

  it('counts decisions by outcome and exposes a latency histogram', async () => {
    await post('/v1/decide', {
      agent: 'analyst-bot',
      action: 'readFile',
      resource: { type: 'FilePath', id: '/etc/passwd' },
    });
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /cordon_decisions_total\{decision="deny",pep="http"\} [1-9]/);
    assert.match(text, /cordon_decisions_total\{decision="allow",pep="authzen"\} [1-9]/);
    assert.match(text, /cordon_decision_duration_seconds_bucket\{le="0.001"\} [1-9]/);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await fetch(`${base}/v2/nothing`);
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { error: string }).error, /no route/);
  });
});

describe('JSON-schema routes', () => {
  it('are validated and serialized by Fastify, its compilers loaded on first use', async () => {
    const metrics = new Metrics();
    const logger = pino({ level: 'silent' });
    const scoped = buildApp({
      decisions: new DecisionService(await exampleEngine(), metrics, logger),
      metrics,
      logger,
    });
    scoped.post(
      '/schema-probe',
      {
        config: { auth: 'public' },
        schema: {
          body: {
            type: 'object',
            required: ['n'],
            properties: { n: { type: 'integer' } },
          },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (req) => ({ n: (req.body as { n: number }).n, secret: 'not serialized' }),
    );
    try {
      const bad = await scoped.inject({
        method: 'POST',
        url: '/schema-probe',
        payload: { n: 'x' },
      });
      assert.equal(bad.statusCode, 400);
      const ok = await scoped.inject({ method: 'POST', url: '/schema-probe', payload: { n: 3 } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), { n: 3 });
    } finally {
      await scoped.close();
    }
  });
});
