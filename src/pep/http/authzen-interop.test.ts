// The OpenID AuthZEN interop scenarios run against Cordon over HTTP: the Todo application
// (evaluation and evaluations), the API gateway, and the Search app (subject, resource and
// action search). The scenarios' rules are Cedar policies and entities in authzen-interop/;
// the request/decision tables are the published ones (see authzen-interop/README.md).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';
import { loadPolicyDir } from '../../policy/load.js';
import { engineFor } from '../../testing/fixtures.js';
import type { AuthzenOptions } from './authzen-routes.js';

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../src/pep/http/authzen-interop/${name}`, import.meta.url));

/** The configuration an operator would write for these scenarios (docs/api.md). */
const AUTHZEN: AuthzenOptions = { agent: 'interop-pep', subjectTypes: { identity: 'User' } };

async function serve(dir: string, authzen: AuthzenOptions = AUTHZEN) {
  const loaded = await loadPolicyDir(fixture(dir), { cacheDir: false });
  if (!loaded.ok) throw new Error(`${dir}: ${JSON.stringify(loaded.errors)}`);
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const app = buildApp({
    decisions: new DecisionService(engineFor(loaded.set), metrics, logger),
    metrics,
    logger,
    authzen,
  });
  // A loopback listener: anonymous decision calls are served there only (DESIGN §3).
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

async function post(app: FastifyInstance, url: string, body: unknown) {
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const readJson = async (path: string) => JSON.parse(await readFile(fixture(path), 'utf8'));

interface Pair<E> {
  request: Record<string, unknown>;
  expected: E;
}

const label = (r: Record<string, unknown>) => JSON.stringify(r);

describe('AuthZEN interop: Todo and API gateway scenarios', () => {
  let app: FastifyInstance;
  let tables: {
    todo: { evaluation: Pair<boolean>[]; evaluations: Pair<{ decision: boolean }[]>[] };
    'api-gateway': { evaluation: Pair<boolean>[] };
  };
  before(async () => {
    app = await serve('todo');
    tables = await readJson('todo/decisions.json');
  });
  after(() => app.close());

  it('answers every Todo evaluation as the published table says', async () => {
    assert.equal(tables.todo.evaluation.length, 40);
    for (const { request, expected } of tables.todo.evaluation) {
      const { status, json } = await post(app, '/access/v1/evaluation', request);
      assert.equal(status, 200, label(request));
      assert.equal(json.decision, expected, label(request));
    }
  });

  it('answers every Todo evaluations batch as the published table says', async () => {
    assert.equal(tables.todo.evaluations.length, 3);
    for (const { request, expected } of tables.todo.evaluations) {
      const { status, json } = await post(app, '/access/v1/evaluations', request);
      assert.equal(status, 200, label(request));
      const got = (json.evaluations as { decision: boolean }[]).map((e) => e.decision);
      assert.deepEqual(
        got,
        expected.map((e) => e.decision),
        label(request),
      );
    }
  });

  it('answers every API gateway evaluation as the published table says', async () => {
    assert.equal(tables['api-gateway'].evaluation.length, 25);
    for (const { request, expected } of tables['api-gateway'].evaluation) {
      const { status, json } = await post(app, '/access/v1/evaluation', request);
      assert.equal(status, 200, label(request));
      assert.equal(json.decision, expected, label(request));
    }
  });

  it('refuses the gateway scenario’s "identity" subjects unless the configuration maps them', async () => {
    const strict = await serve('todo', { agent: 'interop-pep' });
    try {
      const { request } = tables['api-gateway'].evaluation[0]!;
      const { status, json } = await post(strict, '/access/v1/evaluation', request);
      assert.equal(status, 400);
      assert.match(String(json.error), /subject\.type must be Agent or User, not "identity"/);
    } finally {
      await strict.close();
    }
  });
});

describe('AuthZEN interop: Search scenario', () => {
  let app: FastifyInstance;
  let tables: Record<'subject' | 'resource' | 'action', Pair<Record<string, string>[]>[]>;
  before(async () => {
    app = await serve('search');
    tables = await readJson('search/results.json');
  });
  after(() => app.close());

  // The spec gives results no order: compare them as sets.
  const key = (r: Record<string, string>) => r.name ?? `${r.type}::${r.id}`;
  const asSet = (list: Record<string, string>[]) => list.map(key).sort();

  for (const kind of ['subject', 'resource', 'action'] as const) {
    it(`answers every ${kind} search as the published table says`, async () => {
      assert.ok(tables[kind].length > 0);
      for (const { request, expected } of tables[kind]) {
        const { status, json } = await post(app, `/access/v1/search/${kind}`, request);
        assert.equal(status, 200, label(request));
        assert.deepEqual(
          asSet(json.results as Record<string, string>[]),
          asSet(expected),
          label(request),
        );
        assert.deepEqual(json.page, {
          next_token: '',
          count: (json.results as unknown[]).length,
        });
      }
    });
  }

  it('pages a resource search with opaque tokens, every result once, in order', async () => {
    const request = {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'view' },
      resource: { type: 'record' },
    };
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = token ? { token, limit: 7 } : { limit: 7 };
      const { status, json } = await post(app, '/access/v1/search/resource', { ...request, page });
      assert.equal(status, 200);
      const results = json.results as { id: string }[];
      const p = json.page as { next_token: string; count: number };
      assert.equal(p.count, results.length);
      seen.push(...results.map((r) => r.id));
      token = p.next_token || undefined;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, i) => String(101 + i)),
    );
  });

  it('refuses a page token used for a different search, or one it never issued', async () => {
    const request = {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'view' },
      resource: { type: 'record' },
      page: { limit: 5 },
    };
    const first = await post(app, '/access/v1/search/resource', request);
    const token = (first.json.page as { next_token: string }).next_token;
    assert.ok(token);
    const changed = await post(app, '/access/v1/search/resource', {
      ...request,
      subject: { type: 'user', id: 'bob' },
      page: { token, limit: 5 },
    });
    assert.equal(changed.status, 400);
    assert.match(String(changed.json.error), /continues a different search/);
    const forged = await post(app, '/access/v1/search/resource', {
      ...request,
      page: { token: Buffer.from('{"o":-1,"h":"x"}').toString('base64url'), limit: 5 },
    });
    assert.equal(forged.status, 400);
    assert.match(String(forged.json.error), /not a token this PDP issued/);
  });
});
