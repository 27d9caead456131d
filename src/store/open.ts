// Opens the configured backend: embedded SQLite in the data directory unless cordon.yaml names a
// PostgreSQL server (storage.postgres). Each backend's code is loaded only when it is chosen.

import type { CordonConfig } from '../config/config.js';
import type { Stores } from './ports.js';

export async function openStores(config: Pick<CordonConfig, 'data' | 'storage'>): Promise<Stores> {
  const { postgres } = config.storage;
  if (!postgres) {
    const { openEmbeddedStores } = await import('./sqlite/index.js');
    return openEmbeddedStores(config.data);
  }
  const { openPostgresStores } = await import('./postgres/index.js');
  // The whole storage section: storage.schema too (the cluster audit log uses the same one).
  return openPostgresStores({ ...config.storage, postgres });
}
