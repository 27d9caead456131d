// storage.postgres / storage.redis from the environment: what an operator deploying with the
// URLs in a Secret relies on.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ConfigError, parseConfig } from './config.js';

const saved = { pg: process.env.CORDON_POSTGRES_URL, redis: process.env.CORDON_REDIS_URL };
afterEach(() => {
  for (const [k, v] of [
    ['CORDON_POSTGRES_URL', saved.pg],
    ['CORDON_REDIS_URL', saved.redis],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

test('CORDON_POSTGRES_URL and CORDON_REDIS_URL replace the file storage URLs', () => {
  delete process.env.CORDON_POSTGRES_URL;
  delete process.env.CORDON_REDIS_URL;
  assert.deepEqual(parseConfig({}).storage, {});
  process.env.CORDON_POSTGRES_URL = 'postgres://db.internal/cordon';
  assert.deepEqual(parseConfig({}).storage, { postgres: 'postgres://db.internal/cordon' });
  process.env.CORDON_REDIS_URL = 'redis://cache.internal:6379';
  assert.deepEqual(
    parseConfig({ storage: { postgres: 'postgres://file/db', redis: 'redis://file' } }).storage,
    { postgres: 'postgres://db.internal/cordon', redis: 'redis://cache.internal:6379' },
  );
});

test('CORDON_REDIS_URL alone still needs a PostgreSQL URL, and a bad file value is still an error', () => {
  delete process.env.CORDON_POSTGRES_URL;
  process.env.CORDON_REDIS_URL = 'redis://cache.internal:6379';
  assert.throws(
    () => parseConfig({}),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /storage\.redis needs storage\.postgres/);
      return true;
    },
  );
  process.env.CORDON_POSTGRES_URL = 'postgres://db.internal/cordon';
  assert.throws(() => parseConfig({ storage: 'postgres://x' }), ConfigError);
});
