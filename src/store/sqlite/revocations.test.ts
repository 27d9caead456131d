import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../testing/fixtures.js';
import { Revocations } from '../cache/revocations.js';
import { LocalChangeBus } from './bus.js';
import { SqliteRevocationStore } from './revocations.js';

describe('embedded revocation store', () => {
  it('reads a store from before revocations could be lifted: every revocation in it is in force', async () => {
    const data = await tempDir('cordon-revocations-old-');
    const old = new Database(join(data, 'identity.db'));
    old.exec(`CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE revoked_agents (agent TEXT PRIMARY KEY, at INTEGER NOT NULL);
      INSERT INTO revoked_tokens VALUES ('old-jti', 1000);
      INSERT INTO revoked_agents VALUES ('old-bot', 2000);`);
    old.close();
    const store = new SqliteRevocationStore(data);
    const all = await store.changes(0);
    assert.deepEqual(all.tokens, ['old-jti']);
    assert.deepEqual(all.agents, [{ agent: 'old-bot', at: 2000 }]);
    const r = await Revocations.open(store, new LocalChangeBus());
    assert.equal(r.check('old-jti', ['x'], 0), 'token old-jti was revoked');
    assert.equal(r.agentRevoked('old-bot'), true);
    // New changes continue after the old rows.
    await r.revokeToken('new-jti');
    const next = await store.changes(all.cursor);
    assert.deepEqual(next.tokens, ['new-jti']);
    assert.equal(await r.reinstateAgent('old-bot'), true);
    assert.equal(r.agentRevoked('old-bot'), false);
    r.close();
    store.close();
    // Opening the migrated store again changes nothing.
    const again = new SqliteRevocationStore(data);
    assert.deepEqual((await again.changes(0)).tokens.sort(), ['new-jti', 'old-jti']);
    again.close();
  });
});
