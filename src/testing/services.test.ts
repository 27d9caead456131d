// The service probes: a server on a closed port is reported with a reason (and fails under
// CORDON_REQUIRE_SERVICES=1), and a throwaway schema is gone after drop().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { TEST_POSTGRES, postgresMissing, redisMissing, throwawaySchema } from './services.js';
import { postgresConfig } from '../store/postgres/url.js';
import { freePort } from './net.js';

test('an unreachable PostgreSQL or Redis gives a skip reason naming it, or fails when required', async () => {
  const port = await freePort();
  const saved = process.env.CORDON_REQUIRE_SERVICES;
  try {
    delete process.env.CORDON_REQUIRE_SERVICES;
    const pgWhy = await postgresMissing(`postgres://127.0.0.1:${port}/test`);
    assert.match(
      pgWhy ?? '',
      new RegExp(`PostgreSQL at postgres://127\\.0\\.0\\.1:${port}/test is not reachable`),
    );
    const redisWhy = await redisMissing(`redis://127.0.0.1:${port}`);
    assert.match(
      redisWhy ?? '',
      new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port} is not reachable`),
    );
    process.env.CORDON_REQUIRE_SERVICES = '1';
    await assert.rejects(
      postgresMissing(`postgres://127.0.0.1:${port}/other`),
      /CORDON_REQUIRE_SERVICES=1 requires it/,
    );
    await assert.rejects(
      redisMissing(`redis://127.0.0.1:${port}/1`),
      /CORDON_REQUIRE_SERVICES=1 requires it/,
    );
  } finally {
    if (saved === undefined) delete process.env.CORDON_REQUIRE_SERVICES;
    else process.env.CORDON_REQUIRE_SERVICES = saved;
  }
});

test(
  'a throwaway schema is dropped with its tables',
  { skip: await postgresMissing() },
  async () => {
    const s = throwawaySchema('probe');
    assert.match(s.name, /^cordon_test_probe_[0-9a-f]{10}$/);
    const c = new pg.Client(postgresConfig(TEST_POSTGRES));
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${s.name}`);
      await c.query(`CREATE TABLE ${s.name}.t (x int)`);
      await s.drop();
      const r = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [s.name]);
      assert.equal(r.rowCount, 0);
    } finally {
      await c.end();
    }
  },
);
