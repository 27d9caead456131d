import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import type { ActionRequest } from '../core/types.js';
import { openPdp } from '../runtime/pdp.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';

const post = (host: string): ActionRequest => ({
  agent: 'support-bot',
  action: 'sendExternal',
  resource: { type: 'NetworkDestination', id: `${host}:443` },
});

describe('baselines in cordon serve: the embedded store', () => {
  it('what was learned and the mode survive a restart', async () => {
    const config = configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data: await tempDir('cordon-baseline-pdp-'),
      watch: false,
      audit: { enabled: false },
    });
    const log = pino({ level: 'silent' });
    const first = await openPdp(config, log);
    try {
      for (let i = 0; i < 3; i++)
        assert.equal((await first.decisions.decide(post('hooks.example.com'))).decision, 'allow');
      // Monitor: a novel destination is a fact, a risk signal and an alert, not a refusal.
      await first.baselines!.setMode('support-bot', 'monitor', 'cordon-admin');
      const watched = await first.decisions.decide(post('paste.example.net'));
      assert.equal(watched.decision, 'allow');
      assert.ok(watched.risk.score > 0, 'the deviation raised the risk score');
      const metrics = await first.metrics.registry.getSingleMetricAsString(
        'cordon_baseline_novel_total',
      );
      assert.match(metrics, /mode="monitor",dimension="destination",decision="allow"\} 1/);
      await first.baselines!.reset('support-bot'); // forget the watched host again
      for (let i = 0; i < 3; i++)
        assert.equal((await first.decisions.decide(post('hooks.example.com'))).decision, 'allow');
      await first.baselines!.setMode('support-bot', 'enforce', 'cordon-admin');
    } finally {
      await first.close(); // writes what is pending
    }
    const second = await openPdp(config, log);
    try {
      const mode = await second.baselines!.mode('support-bot');
      assert.deepEqual([mode.mode, mode.by], ['enforce', 'cordon-admin']);
      assert.equal((await second.decisions.decide(post('hooks.example.com'))).decision, 'allow');
      const novel = await second.decisions.decide(post('paste.example.net'));
      assert.equal(novel.decision, 'require_approval');
      assert.deepEqual(
        novel.reasons.map((r) => r.policy),
        ['novel-destination-needs-approval'],
      );
    } finally {
      await second.close();
    }
  });
});
