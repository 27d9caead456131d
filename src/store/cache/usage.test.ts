import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../../testing/fixtures.js';
import { SqliteUsageStore } from '../sqlite/usage.js';
import { UsageWindows } from './usage.js';

/** The next request: another turn of the event loop (where a server handles it). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('usage windows', () => {
  it('counts requests and tokens inside the window only, and across a restart', async () => {
    const data = await tempDir('cordon-usage-');
    const t0 = Date.parse('2026-11-21T10:00:00Z');
    const at = (s: number) => new Date(t0 + s * 1000);
    const store = new SqliteUsageStore(data);
    const usage = new UsageWindows(store, 60_000);
    await usage.record(['agent\u0000a', 'user\u0000u'], 100, at(0));
    await usage.record(['agent\u0000a'], 30, at(30));
    assert.deepEqual(await usage.totals('agent\u0000a', at(31)), { requests: 2, tokens: 130 });
    assert.deepEqual(await usage.totals('user\u0000u', at(31)), { requests: 1, tokens: 100 });
    // The first call leaves the window at 60 s; the second at 90 s.
    assert.deepEqual(await usage.totals('agent\u0000a', at(61)), { requests: 1, tokens: 30 });
    await usage.record(['agent\u0000a'], 5, at(62));
    assert.deepEqual(await usage.totals('agent\u0000a', at(62)), { requests: 2, tokens: 35 });
    store.close();
    const reopened = new SqliteUsageStore(data);
    const again = new UsageWindows(reopened, 60_000);
    assert.deepEqual(await again.totals('agent\u0000a', at(63)), { requests: 2, tokens: 35 });
    assert.deepEqual(await again.totals('agent\u0000a', at(91)), { requests: 1, tokens: 5 });
    reopened.close();
  });

  it('counts what another process records, at the next decision', async () => {
    const data = await tempDir('cordon-usage-');
    const t0 = Date.now();
    const mine = new SqliteUsageStore(data);
    const theirs = new SqliteUsageStore(data);
    const usage = new UsageWindows(mine, 60_000);
    const other = new UsageWindows(theirs, 60_000);
    await usage.record(['agent\u0000a'], 10, new Date(t0));
    assert.deepEqual(await usage.totals('agent\u0000a', new Date(t0)), { requests: 1, tokens: 10 });
    await other.record(['agent\u0000a'], 20, new Date(t0 + 1));
    await nextTurn();
    assert.deepEqual(await usage.totals('agent\u0000a', new Date(t0 + 2)), {
      requests: 2,
      tokens: 30,
    });
    // Its own record after another process wrote is counted once, not twice.
    await usage.record(['agent\u0000a'], 1, new Date(t0 + 3));
    assert.deepEqual(await usage.totals('agent\u0000a', new Date(t0 + 4)), {
      requests: 3,
      tokens: 31,
    });
    await nextTurn();
    assert.deepEqual(await other.totals('agent\u0000a', new Date(t0 + 4)), {
      requests: 3,
      tokens: 31,
    });
    mine.close();
    theirs.close();
  });

  it('compacting keeps every cursor valid: a record after the table emptied is still read', async () => {
    const data = await tempDir('cordon-usage-');
    const t0 = Date.now();
    const mine = new SqliteUsageStore(data);
    const theirs = new SqliteUsageStore(data);
    const usage = new UsageWindows(mine, 60_000);
    await usage.record(['agent\u0000a'], 10, new Date(t0));
    await usage.record(['agent\u0000a'], 10, new Date(t0 + 1));
    assert.equal((await usage.totals('agent\u0000a', new Date(t0 + 2))).requests, 2);
    const later = t0 + 10 * 60_000;
    await usage.compact(new Date(later));
    assert.equal((await usage.totals('agent\u0000a', new Date(later))).requests, 0);
    await theirs.record(['agent\u0000a'], 7, new Date(later + 1));
    await nextTurn();
    assert.deepEqual(await usage.totals('agent\u0000a', new Date(later + 2)), {
      requests: 1,
      tokens: 7,
    });
    mine.close();
    theirs.close();
  });
});
