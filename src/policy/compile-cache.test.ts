import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Engine } from '../core/engine.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { readCachedAnalysis } from './compile-cache.js';
import { loadPolicyDir, readPolicySources } from './load.js';
import { policyVersion } from '../core/compile.js';
import { readTestFiles, runCase } from './test-runner.js';

async function exampleCopy(): Promise<string> {
  const dir = await tempDir('cordon-cache-src-');
  await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  return dir;
}

const entries = (cache: string) =>
  readdirSync(join(cache, 'policies')).map((n) => join(cache, 'policies', n));

describe('compile cache', () => {
  it('a set loaded from the cache decides every example test as a fresh compile does', async () => {
    const cache = await tempDir('cordon-cache-');
    const first = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: cache });
    assert.ok(first.ok);
    const [entry] = entries(cache);
    assert.equal(entries(cache).length, 1);
    assert.equal(statSync(entry!).mode & 0o777, 0o600);
    assert.ok(readCachedAnalysis(cache, first.set.version), 'the entry is readable');
    const cached = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: cache });
    const fresh = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: false });
    assert.ok(cached.ok && fresh.ok);
    assert.equal(cached.set.version, fresh.set.version);
    assert.deepEqual(cached.warnings, fresh.warnings);
    const { cases } = await readTestFiles(EXAMPLE_POLICIES);
    const a = new Engine({ policies: { current: () => cached.set } });
    const b = new Engine({ policies: { current: () => fresh.set } });
    for (const { file, c } of cases) {
      const [x, y] = [await runCase(a, file, c), await runCase(b, file, c)];
      assert.equal(x.decision?.decision, y.decision?.decision, c.name);
      assert.deepEqual(
        x.decision?.reasons.map((r) => r.policy),
        y.decision?.reasons.map((r) => r.policy),
      );
      assert.ok(x.passed, `${c.name}: ${x.problems.join('; ')}`);
    }
  });

  it('an edited set misses the cache: its errors are reported, not an older analysis', async () => {
    const cache = await tempDir('cordon-cache-');
    const dir = await exampleCopy();
    assert.ok((await loadPolicyDir(dir, { cacheDir: cache })).ok);
    const sre = join(dir, 'sre.cedar');
    await writeFile(sre, readFileSync(sre, 'utf8').replace('resource.readOnly', 'resource.nope'));
    const r = await loadPolicyDir(dir, { cacheDir: cache });
    assert.equal(r.ok, false);
  });

  it('a corrupt, truncated or foreign entry is ignored and rewritten, never trusted', async () => {
    const cache = await tempDir('cordon-cache-');
    const dir = await exampleCopy();
    const good = await loadPolicyDir(dir, { cacheDir: cache });
    assert.ok(good.ok);
    const [entry] = entries(cache);
    const original = readFileSync(entry!, 'utf8');
    const version = policyVersion(await readPolicySources(dir));

    // A forged payload that would permit everything, with the checksum left as it was.
    const forged = JSON.parse(original) as { payload: string };
    forged.payload = forged.payload.replace('"effect":"forbid"', '"effect":"permit"');
    writeFileSync(entry!, JSON.stringify(forged));
    assert.equal(readCachedAnalysis(cache, version), undefined, 'checksum mismatch');

    writeFileSync(entry!, original.slice(0, original.length / 2));
    assert.equal(readCachedAnalysis(cache, version), undefined, 'truncated');

    // A valid entry of another set, copied under this set's name.
    const other = await tempDir('cordon-cache-other-');
    await writeFile(join(other, 'p.cedar'), 'permit(principal, action, resource);\n');
    const otherCache = await tempDir('cordon-cache-');
    assert.ok((await loadPolicyDir(other, { cacheDir: otherCache })).ok);
    writeFileSync(entry!, readFileSync(entries(otherCache)[0]!));
    assert.equal(readCachedAnalysis(cache, version), undefined, 'another key');

    // Loading still gives the right set, and the entry is good again.
    const again = await loadPolicyDir(dir, { cacheDir: cache });
    assert.ok(again.ok);
    assert.equal(again.set.size, good.set.size);
    assert.equal(readFileSync(entry!, 'utf8'), original);
    assert.deepEqual(
      readdirSync(join(cache, 'policies')).filter((n) => n.endsWith('.tmp')),
      [],
      'no temporary file left behind',
    );
  });

  it('a cache directory that cannot be written is skipped', async () => {
    const file = join(await tempDir('cordon-cache-'), 'a-file');
    await writeFile(file, '');
    const r = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: join(file, 'sub') });
    assert.ok(r.ok);
  });
});
