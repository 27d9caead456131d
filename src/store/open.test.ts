import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';
import { openStores } from './open.js';

describe('openStores', () => {
  it('opens the embedded backend by default, each file when its store is first used', async () => {
    const data = await tempDir('cordon-open-');
    const stores = await openStores({ data, storage: {} });
    try {
      assert.equal(stores.backend, 'embedded');
      assert.deepEqual(await readdir(data), [], 'nothing opened yet');
      await stores.revocations.revokeToken('j', new Date());
      assert.deepEqual(
        (await readdir(data)).filter((f) => f.endsWith('.db')),
        ['identity.db'],
      );
      assert.deepEqual(await stores.health(), { storage: 'ok' });
    } finally {
      await stores.close();
    }
  });
});
