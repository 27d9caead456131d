import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { agent, entities, EXAMPLE_POLICIES, tempDir, writeTree } from '../testing/fixtures.js';
import { LAUNCHER } from '../kernel/run.js';

const BIN = fileURLToPath(new URL('./main.js', import.meta.url));

function cordon(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cordon compile', () => {
  it('prints the compile report for the seed policy', () => {
    const r = cordon(['compile', '--agent', 'analyst-bot', '--policies', EXAMPLE_POLICIES]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /readFile\s+\/var\/run\/secrets\/analyst-key, \/workspace\/analyst-\*/);
    assert.match(
      r.stdout,
      /no-exfiltration-after-sensitive-read \(forbid, behavior\.cedar\): gateway/,
    );
  });

  it('prints a cluster export as JSON', () => {
    const r = cordon([
      'compile',
      '--agent',
      'analyst-bot',
      '--policies',
      EXAMPLE_POLICIES,
      '--target',
      'cilium',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'CiliumNetworkPolicy');
  });

  it('exits 1 naming an unknown agent', () => {
    const r = cordon(['compile', '--agent', 'ghost', '--policies', EXAMPLE_POLICIES]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown agent "ghost"/);
  });
});

describe('cordon run', () => {
  it("returns the command's exit code; a denied read fails as the platform's EACCES", async (t) => {
    const probe = spawnSync(LAUNCHER, ['--allow', 'rx:/', '--', '/bin/true'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip(`Landlock is not available here: ${probe.stderr || probe.error?.message}`);
      return;
    }
    const dir = await tempDir('cordon-run-');
    await writeTree(dir, {
      'p.cedar': `permit(principal, action == Action::"readFile", resource) when { resource.path like "${dir}/*" };`,
      'entities.json': entities([agent('bot', [], {})]),
    });
    const base = ['run', '--agent', 'bot', '--policies', dir, '--data', join(dir, '.data'), '--'];
    const ok = cordon([...base, '/bin/sh', '-c', 'exit 3']);
    assert.equal(ok.code, 3, ok.stderr);
    const denied = cordon([...base, '/bin/cat', '/etc/hostname']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Permission denied/);
    const allowed = cordon([...base, '/bin/cat', join(dir, 'p.cedar')]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /permit/);
    await rm(dir, { recursive: true, force: true });
  });
});
