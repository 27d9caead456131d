// The AuthZEN 1.0 binding's rules beyond the interop tables: evaluations defaults and semantics,
// per-evaluation errors, the metadata document, X-Request-ID, and bad bodies as clear 400s.
// Policies: the interop Search scenario (authzen-interop/search).

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';
import { loadPolicyDir } from '../../policy/load.js';
import { engineFor } from '../../testing/fixtures.js';

let app: FastifyInstance;
let base: string;

before(async () => {
  const dir = fileURLToPath(
    new URL('../../../src/pep/http/authzen-interop/search', import.meta.url),
  );
  const loaded = await loadPolicyDir(dir, { cacheDir: false });
  if (!loaded.ok) throw new Error('the search fixture does not compile');
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  app = buildApp({
    decisions: new DecisionService(engineFor(loaded.set), metrics, logger),
    metrics,
    logger,
    authzen: { agent: 'interop-pep', search: { scanPerPage: 4 } },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(() => app.close());

/** The parts of an AuthZEN answer these tests read. */
interface Answer {
  decision?: boolean;
  evaluations: { decision: boolean; context: { error: { status: number; message: string } } }[];
  error: string;
  page: { next_token: string; count: number };
  results: { id: string }[];
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Answer };
}

const alice = { type: 'user', id: 'alice' };
const erin = { type: 'user', id: 'erin' };
const record = (id: string) => ({ type: 'record', id });
// erin (employee, Finance) may view 111 (hers) and 115 (Finance's), not 101 (Legal's, alice's).
const batch = {
  subject: erin,
  action: { name: 'view' },
  evaluations: [
    { resource: record('111') },
    { resource: record('101') },
    { resource: record('115') },
  ],
};
const decisions = (json: Answer) => json.evaluations.map((e) => e.decision);

describe('Access Evaluations API', () => {
  it('executes all by default, in request order', async () => {
    const { status, json } = await post('/access/v1/evaluations', batch);
    assert.equal(status, 200);
    assert.deepEqual(decisions(json), [true, false, true]);
    assert.equal(json.decision, undefined, 'a batch answer carries no top-level decision');
  });

  it('stops at the first deny with deny_on_first_deny, and at the first permit with permit_on_first_permit', async () => {
    const deny = await post('/access/v1/evaluations', {
      ...batch,
      options: { evaluations_semantic: 'deny_on_first_deny', some_other_option: 1 },
    });
    assert.deepEqual(decisions(deny.json), [true, false]);
    const permit = await post('/access/v1/evaluations', {
      ...batch,
      evaluations: [{ resource: record('101') }, ...batch.evaluations],
      options: { evaluations_semantic: 'permit_on_first_permit' },
    });
    assert.deepEqual(decisions(permit.json), [false, true]);
  });

  it('lets an evaluation override each default, the context replaced whole', async () => {
    const { json } = await post('/access/v1/evaluations', {
      ...batch,
      context: { purpose: 'audit' },
      evaluations: [
        { resource: record('101') },
        { subject: alice, resource: record('101') },
        { action: { name: 'delete' }, resource: record('111') },
        { resource: record('111'), context: {} },
      ],
    });
    assert.deepEqual(decisions(json), [false, true, true, true]);
  });

  it('behaves as a single evaluation without an evaluations array, or with an empty one', async () => {
    for (const extra of [{}, { evaluations: [] }]) {
      const { status, json } = await post('/access/v1/evaluations', {
        subject: erin,
        action: { name: 'view' },
        resource: record('111'),
        ...extra,
      });
      assert.equal(status, 200);
      assert.equal(json.decision, true);
      assert.equal(json.evaluations, undefined);
    }
  });

  it('answers an evaluation it cannot map as closed with its error, and counts it as a deny', async () => {
    const body = {
      action: { name: 'view' },
      resource: record('111'),
      evaluations: [
        { subject: erin },
        { subject: { type: 'robot', id: 'r2' } },
        { subject: alice },
      ],
    };
    const all = await post('/access/v1/evaluations', body);
    assert.equal(all.status, 200);
    assert.deepEqual(decisions(all.json), [true, false, true]);
    assert.deepEqual(all.json.evaluations[1]!.context.error.status, 400);
    assert.match(all.json.evaluations[1]!.context.error.message, /evaluations\.1: subject\.type/);
    const first = await post('/access/v1/evaluations', {
      ...body,
      options: { evaluations_semantic: 'deny_on_first_deny' },
    });
    assert.deepEqual(decisions(first.json), [true, false]);
  });

  it('refuses a batch whose evaluation lacks a required key with no default for it', async () => {
    const { status, json } = await post('/access/v1/evaluations', {
      subject: erin,
      evaluations: [
        { action: { name: 'view' }, resource: record('111') },
        { resource: record('101') },
      ],
    });
    assert.equal(status, 400);
    assert.match(json.error, /evaluations\.1: action/);
  });

  it('refuses an unknown semantic and an oversized batch', async () => {
    const semantic = await post('/access/v1/evaluations', {
      ...batch,
      options: { evaluations_semantic: 'first_wins' },
    });
    assert.equal(semantic.status, 400);
    assert.match(semantic.json.error, /options\.evaluations_semantic/);
    const big = await post('/access/v1/evaluations', {
      ...batch,
      evaluations: Array.from({ length: 257 }, () => ({ resource: record('111') })),
    });
    assert.equal(big.status, 400);
    assert.match(big.json.error, /evaluations/);
  });
});

describe('Search APIs: limits and bad bodies', () => {
  it('stops a page after scanPerPage candidates and continues from the token', async () => {
    // erin may view the records she owns (105, 111, 117) and Finance's (115): 4 candidates a page.
    const request = { subject: erin, action: { name: 'view' }, resource: { type: 'record' } };
    const found: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const { status, json } = await post('/access/v1/search/resource', {
        ...request,
        ...(token ? { page: { token } } : {}),
      });
      assert.equal(status, 200);
      found.push(...json.results.map((r) => r.id));
      token = json.page.next_token;
      pages++;
    } while (token);
    assert.equal(pages, 5, '20 candidates, 4 a page');
    assert.deepEqual(found, ['105', '111', '115', '117']);
  });

  it('answers a search with a clear 400 for each missing or malformed part', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['subject', { action: { name: 'view' }, resource: record('101') }, /subject/],
      [
        'subject',
        { subject: { type: 'robot' }, action: { name: 'view' }, resource: record('101') },
        /subject\.type must be/,
      ],
      ['resource', { subject: alice, action: { name: 'view' } }, /resource/],
      ['resource', { subject: alice, action: {}, resource: { type: 'record' } }, /action\.name/],
      ['action', { subject: alice }, /resource/],
      ['action', { subject: alice, resource: record('101'), page: { limit: -1 } }, /page\.limit/],
      ['action', { subject: alice, resource: record('101'), page: { token: 'x' } }, /page\.token/],
      ['action', '[]', /expected object/],
    ];
    for (const [kind, body, error] of cases) {
      const { status, json } = await post(`/access/v1/search/${kind}`, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.match(json.error, error, JSON.stringify(body));
    }
  });

  it('finds nothing, rather than erring, for a type no entity has', async () => {
    const { status, json } = await post('/access/v1/search/resource', {
      subject: alice,
      action: { name: 'view' },
      resource: { type: 'invoice' },
    });
    assert.equal(status, 200);
    assert.deepEqual(json, { page: { next_token: '', count: 0 }, results: [] });
  });
});

describe('PDP metadata and request identification', () => {
  it('publishes the endpoint URLs at /.well-known/authzen-configuration', async () => {
    const res = await fetch(`${base}/.well-known/authzen-configuration`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), {
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
      search_subject_endpoint: `${base}/access/v1/search/subject`,
      search_resource_endpoint: `${base}/access/v1/search/resource`,
      search_action_endpoint: `${base}/access/v1/search/action`,
    });
  });

  it('echoes the X-Request-ID of a request, answered or refused', async () => {
    const ok = await post(
      '/access/v1/evaluation',
      { subject: erin, action: { name: 'view' }, resource: record('111') },
      { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' },
    );
    assert.equal(ok.headers.get('x-request-id'), 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716');
    const bad = await post('/access/v1/evaluation', {}, { 'x-request-id': 'req-2' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('x-request-id'), 'req-2');
  });
});
