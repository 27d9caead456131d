// Opens the configured backend: embedded SQLite in the data directory unless cordon.yaml names a
// PostgreSQL server (storage.postgres), whose code is loaded only then.

import { ConfigError, type CordonConfig } from '../config/config.js';
import type { Stores } from './ports.js';

type PostgresBackend = {
  openPostgresStores(storage: { postgres: string; redis?: string }): Promise<Stores>;
};

/** Where the PostgreSQL backend lives; a variable, so this compiles before it exists. */
const POSTGRES_MODULE = './postgres/index.js';

export async function openStores(config: Pick<CordonConfig, 'data' | 'storage'>): Promise<Stores> {
  const { postgres, redis } = config.storage;
  if (!postgres) {
    const { openEmbeddedStores } = await import('./sqlite/index.js');
    return openEmbeddedStores(config.data);
  }
  let backend: PostgresBackend;
  try {
    backend = (await import(POSTGRES_MODULE)) as PostgresBackend;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND')
      throw new ConfigError('storage.postgres: this build of Cordon has no PostgreSQL backend');
    throw e;
  }
  return backend.openPostgresStores({ postgres, ...(redis ? { redis } : {}) });
}
