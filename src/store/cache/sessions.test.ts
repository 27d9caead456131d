import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SessionEvent } from '../../core/stages/session.js';
import { tempDir } from '../../testing/fixtures.js';
import { SqliteSessionEvents } from '../sqlite/sessions.js';
import { SessionCache } from './sessions.js';

/** The next request: another turn of the event loop (where a server handles it). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const read = (i: number, labels: string[] = []): SessionEvent => ({
  decisionId: `d-${i}`,
  time: Date.now(),
  action: 'readData',
  resource: `Field::"f${i}"`,
  outcome: 'allow',
  labels,
  destructive: false,
});

describe('session summaries', () => {
  it('see an event another process appended at the next decision, and their own once', async () => {
    const data = await tempDir('cordon-session-cache-');
    const mine = new SqliteSessionEvents(data);
    const theirs = new SqliteSessionEvents(data);
    const cache = new SessionCache(mine, 600_000);
    const other = new SessionCache(theirs, 600_000);
    await cache.append('k', read(1));
    assert.equal((await cache.summary('k')).view(Date.now()).counts.total, 1);
    await cache.append('k', read(2));
    assert.equal((await cache.summary('k')).view(Date.now()).counts.total, 2);
    // Another process (a second node, `cordon run` beside the server) taints the session.
    await other.append('k', read(3, ['pii']));
    await nextTurn();
    const v = (await cache.summary('k')).view(Date.now());
    assert.deepEqual(v.labels, ['pii']);
    assert.equal(v.counts.total, 3);
    await cache.append('k', read(4));
    assert.equal((await cache.summary('k')).view(Date.now()).counts.total, 4);
    await nextTurn();
    assert.equal((await other.summary('k')).view(Date.now()).counts.total, 4);
    mine.close();
    theirs.close();
  });

  it('rebuild from the store after a restart', async () => {
    const data = await tempDir('cordon-session-cache-');
    const first = new SqliteSessionEvents(data);
    await new SessionCache(first, 600_000).append('k', read(1, ['secret']));
    first.close();
    const again = new SqliteSessionEvents(data);
    assert.deepEqual(
      (await new SessionCache(again, 600_000).summary('k')).view(Date.now()).labels,
      ['secret'],
    );
    again.close();
  });
});
