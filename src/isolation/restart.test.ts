import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { openPdp } from '../runtime/pdp.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';

const configFor = (data: string) =>
  configSchema.parse({ policies: EXAMPLE_POLICIES, data, watch: false, log: { level: 'silent' } });
const log = pino({ level: 'silent' });
const post = {
  agent: 'analyst-bot',
  action: 'readFile',
  resource: { type: 'FilePath', id: '/workspace/report.md' },
};

describe('isolation across restarts of the decision point', () => {
  it('an isolation applied before a restart still refuses after it', async () => {
    const data = await tempDir('cordon-iso-restart-');
    const first = await openPdp(configFor(data), log);
    const before = await first.decisions.decide(post);
    await first.isolation.apply({
      agent: 'analyst-bot',
      measures: { full: true },
      reason: 'incident 17',
      by: 'alice',
    });
    assert.equal((await first.decisions.decide(post)).reasons[0]?.policy, 'cordon/isolation');
    await first.close();

    const second = await openPdp(configFor(data), log);
    try {
      const after = await second.decisions.decide(post);
      assert.equal(after.decision, 'deny');
      assert.equal(after.reasons[0]?.policy, 'cordon/isolation');
      assert.match(after.reasons[0]?.message ?? '', /applied by alice: incident 17/);
      await second.isolation.release({ agent: 'analyst-bot' }, 'alice');
      assert.equal((await second.decisions.decide(post)).decision, before.decision);
    } finally {
      await second.close();
    }
  });

  it('refuses to start when the isolation store cannot be read', async () => {
    const data = await tempDir('cordon-iso-corrupt-');
    await writeFile(join(data, 'isolation.db'), 'this is not a database, it was damaged');
    await assert.rejects(openPdp(configFor(data), log), /file is not a database/);
  });
});
