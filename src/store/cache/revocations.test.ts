import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../../testing/fixtures.js';
import { openEmbeddedStores } from '../sqlite/index.js';
import { Revocations } from './revocations.js';

/** The next request: another turn of the event loop (where a server handles it). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('revocations cache', () => {
  it('applies a revocation made by another process (the CLI beside a server) to the very next check', async () => {
    const data = await tempDir('cordon-revocations-');
    const server = await openEmbeddedStores(data);
    const cli = await openEmbeddedStores(data);
    const serving = await Revocations.open(server.revocations, server.bus);
    const issuedAt = Date.now() - 1000;
    assert.equal(serving.check('j-1', ['bot'], issuedAt), undefined);
    assert.equal(serving.agentRevoked('bot'), false);

    const other = await Revocations.open(cli.revocations, cli.bus);
    await other.revokeToken('j-1');
    // No message between the processes: the next request's check reads the commit.
    await nextTurn();
    assert.equal(serving.check('j-1', ['bot'], issuedAt), 'token j-1 was revoked');
    assert.equal(
      serving.check('j-2', ['bot'], issuedAt, ['j-1']),
      'token j-1, which this token was minted from, was revoked',
    );
    await other.revokeAgent('bot');
    await nextTurn();
    assert.equal(serving.agentRevoked('bot'), true);
    assert.equal(serving.check('j-3', ['boss', 'bot'], Date.now()), 'agent "bot" is revoked');
    assert.equal(await other.reinstateAgent('bot'), true);
    await nextTurn();
    assert.equal(serving.agentRevoked('bot'), false);
    assert.equal(
      serving.check('j-3', ['boss', 'bot'], issuedAt),
      'tokens of agent "bot" issued before its revocation were revoked',
    );
    assert.equal(serving.check('j-4', ['boss', 'bot'], Date.now() + 1000), undefined);
    assert.equal(await serving.reinstateAgent('bot'), false);
    other.close();
    serving.close();
    await cli.close();
    await server.close();
  });

  it("applies this process's own revocations at once", async () => {
    const stores = await openEmbeddedStores(await tempDir('cordon-revocations-'));
    const r = await Revocations.open(stores.revocations, stores.bus);
    await r.revokeAgent('bot');
    assert.equal(r.agentRevoked('bot'), true);
    await r.revokeToken('j');
    assert.equal(r.check('j', ['a'], Date.now()), 'token j was revoked');
    r.close();
    await stores.close();
  });
});
