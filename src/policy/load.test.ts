// Reading a policy directory as Kubernetes mounts it: a ConfigMap volume presents each file as a
// symbolic link into a `..data` directory, swapped atomically on update.

import assert from 'node:assert/strict';
import { cp, mkdir, readdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { loadPolicyDir } from './load.js';

describe('loadPolicyDir', () => {
  it('reads a ConfigMap volume: files as links into ..data, the same set as the plain directory', async () => {
    const vol = await tempDir();
    const data = join(vol, '..2026_12_03_15_00_00.1');
    await mkdir(data);
    // A ConfigMap is flat: the policies, the schema and the entities (no tests/ folder).
    const names = (await readdir(EXAMPLE_POLICIES)).filter((n) => n !== 'tests');
    for (const n of names) await cp(join(EXAMPLE_POLICIES, n), join(data, n));
    await symlink(data, join(vol, '..data_tmp'));
    await rename(join(vol, '..data_tmp'), join(vol, '..data'));
    for (const n of names) await symlink(join('..data', n), join(vol, n));

    const plain = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: false });
    const mounted = await loadPolicyDir(vol, { cacheDir: false });
    assert.ok(plain.ok && mounted.ok);
    assert.equal(mounted.set.size, plain.set.size);
    assert.equal(mounted.set.version, plain.set.version);
  });
});
