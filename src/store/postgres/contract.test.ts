// The store contract on the PostgreSQL backend, against the real servers (CORDON_TEST_POSTGRES,
// CORDON_TEST_REDIS), in a schema of its own that is dropped afterwards: once with Redis
// carrying notifications, once with PostgreSQL LISTEN/NOTIFY alone. Skipped, with the reason,
// where a server is not reachable (CORDON_REQUIRE_SERVICES=1 makes that a failure).

import { after, describe } from 'node:test';
import {
  TEST_POSTGRES,
  TEST_REDIS,
  serviceSkips,
  throwawaySchema,
} from '../../testing/services.js';
import { storeContract } from '../contract.js';
import { openPostgresStores } from './index.js';

const { postgres: pgMissing, postgresAndRedis: noRedis } = await serviceSkips();

describe('PostgreSQL + Redis', { skip: noRedis }, () => {
  const schema = throwawaySchema('contract_redis');
  after(() => schema.drop());
  storeContract('postgres + redis', () =>
    openPostgresStores({ postgres: TEST_POSTGRES, redis: TEST_REDIS }, { schema: schema.name }),
  );
});

describe('PostgreSQL alone', { skip: pgMissing }, () => {
  const schema = throwawaySchema('contract_pg');
  after(() => schema.drop());
  storeContract('postgres (NOTIFY)', () =>
    openPostgresStores({ postgres: TEST_POSTGRES }, { schema: schema.name }),
  );
});
