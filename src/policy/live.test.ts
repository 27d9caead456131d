import assert from 'node:assert/strict';
import { once } from 'node:events';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../core/engine.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { LivePolicySet, PolicyLoadError } from './live.js';

const readLedger = {
  agent: 'ledger-bot',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
};
const BLOCK_LEDGER =
  '@id("ledger-frozen") forbid(principal, action, resource == Tool::"erp/read_ledger");\n';

async function exampleCopy(): Promise<string> {
  const dir = await tempDir();
  await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  return dir;
}

describe('LivePolicySet', () => {
  it('refuses to start on a broken directory, with located errors', async () => {
    const dir = await exampleCopy();
    await writeFile(join(dir, 'broken.cedar'), 'permit(principal, action,\n');
    await assert.rejects(
      LivePolicySet.open(dir),
      (e: unknown) => e instanceof PolicyLoadError && /^broken\.cedar:1:\d+ /m.test(e.message),
    );
  });

  it('follows edits: a new policy serves after the swap, with a new version', async () => {
    const dir = await exampleCopy();
    const live = await (await LivePolicySet.open(dir)).watch(50);
    try {
      const engine = new Engine({ policies: live });
      const before = await engine.decide(readLedger);
      assert.equal(before.decision, 'allow');
      const reloaded = once(live, 'reload');
      await writeFile(join(dir, 'freeze.cedar'), BLOCK_LEDGER);
      await reloaded;
      const after = await engine.decide(readLedger);
      assert.equal(after.decision, 'deny');
      assert.deepEqual(
        after.reasons.map((r) => r.policy),
        ['ledger-frozen'],
      );
      assert.notEqual(after.policyVersion, before.policyVersion);
    } finally {
      await live.close();
    }
  });

  it('keeps the last good set serving when an edit breaks it, and says why', async () => {
    const dir = await exampleCopy();
    const live = await (await LivePolicySet.open(dir)).watch(50);
    try {
      const engine = new Engine({ policies: live });
      const version = live.current().version;
      const failed = once(live, 'error');
      await writeFile(join(dir, 'finance.cedar'), 'permit(principal, action == , resource);');
      const [err] = (await failed) as [PolicyLoadError];
      assert.match(err.message, /^finance\.cedar:1:\d+ /);
      assert.equal(live.current().version, version);
      assert.equal((await engine.decide(readLedger)).decision, 'allow');
      assert.ok(live.lastError);
    } finally {
      await live.close();
    }
  });

  it('refuses a reload from which entities.json or the schema vanished, keeping the last good set', async () => {
    for (const vanished of ['entities.json', 'schema.cedarschema']) {
      const dir = await exampleCopy();
      const live = await LivePolicySet.open(dir);
      try {
        const engine = new Engine({ policies: live });
        const version = live.current().version;
        live.on('error', () => {}); // reported through lastError below
        await rm(join(dir, vanished));
        await live.reload();
        assert.equal(live.current().version, version, vanished);
        assert.match(live.lastError?.message ?? '', new RegExp(`^${vanished} vanished`));
        // ledger-bot is known only from entities.json: it is still decided as before.
        assert.equal((await engine.decide(readLedger)).decision, 'allow');
      } finally {
        await live.close();
      }
    }
  });

  it('never serves a half-loaded set while reloading under load', async () => {
    const dir = await exampleCopy();
    const live = await LivePolicySet.open(dir);
    const engine = new Engine({ policies: live });
    const seen = new Set<string>();
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const d = await engine.decide(readLedger);
        // Either the old set (allow by finance-readonly-tools) or the new one (deny by ledger-frozen).
        assert.ok(
          (d.decision === 'allow' && d.reasons[0]?.policy === 'finance-readonly-tools') ||
            (d.decision === 'deny' && d.reasons[0]?.policy === 'ledger-frozen'),
          JSON.stringify(d),
        );
        seen.add(d.decision);
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 6; i++) {
      await writeFile(join(dir, 'freeze.cedar'), i % 2 === 0 ? BLOCK_LEDGER : '// thawed\n');
      await live.reload();
    }
    stop = true;
    await load;
    assert.deepEqual([...seen].sort(), ['allow', 'deny']);
  });
});
