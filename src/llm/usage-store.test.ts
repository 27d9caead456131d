import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';
import { SqliteUsageStore } from './usage-store.js';

describe('SqliteUsageStore', () => {
  it('counts requests and tokens inside the window only, and across a restart', async () => {
    const data = await tempDir('cordon-usage-');
    const t0 = Date.parse('2026-11-21T10:00:00Z');
    const at = (s: number) => new Date(t0 + s * 1000);
    const store = new SqliteUsageStore(data, 60_000);
    store.record(['agent\u0000a', 'user\u0000u'], 100, at(0));
    store.record(['agent\u0000a'], 30, at(30));
    assert.deepEqual(await store.totals('agent\u0000a', at(31)), { requests: 2, tokens: 130 });
    assert.deepEqual(await store.totals('user\u0000u', at(31)), { requests: 1, tokens: 100 });
    // The first call leaves the window at 60 s; the second at 90 s.
    assert.deepEqual(await store.totals('agent\u0000a', at(61)), { requests: 1, tokens: 30 });
    store.close();
    const again = new SqliteUsageStore(data, 60_000);
    assert.deepEqual(await again.totals('agent\u0000a', at(61)), { requests: 1, tokens: 30 });
    assert.deepEqual(await again.totals('agent\u0000a', at(91)), { requests: 0, tokens: 0 });
    again.close();
  });
});
