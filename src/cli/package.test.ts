// The npm package: what `npm pack` puts in it, and that it runs once unpacked where npm installs
// it. Always: the file list (npm pack --dry-run), and the packed tarball unpacked as
// node_modules/cordon beside its dependencies, `npx cordon decide` run on its bundled examples.
// With CORDON_TEST_PACK_INSTALL=1 (CI sets it; it needs the registry): a real `npm install` of
// the tarball into an empty directory, then the same command.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface PackJson {
  filename: string;
  files: { path: string }[];
}

/** `npm pack` of the built tree (no prepare: the tests run on the build already made). */
function pack(args: string[]): PackJson {
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  // npm prints notices before the JSON on some versions: the document is the last array.
  return (JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as PackJson[])[0]!;
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  main?: string;
  dependencies: Record<string, string>;
};

function npxCordonDecide(cwd: string): { code: number | null; out: string; err: string } {
  const examples = join(cwd, 'node_modules', 'cordon', 'examples');
  const r = spawnSync(
    'npx',
    [
      '--offline',
      '--no',
      'cordon',
      'decide',
      '--policies',
      join(examples, 'policies'),
      '--request',
      join(examples, 'requests', 'side-door.json'),
    ],
    { cwd, encoding: 'utf8', env: { ...process.env, CORDON_CACHE_DIR: 'off' } },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the npm package', () => {
  it('holds the build and the examples, without tests, benches or test fixtures', () => {
    const files = pack(['--dry-run']).files.map((f) => f.path);
    const has = new Set(files);
    for (const bin of Object.values(pkg.bin)) assert.ok(has.has(bin.replace(/^\.\//, '')), bin);
    if (pkg.main) assert.ok(has.has(pkg.main.replace(/^\.\//, '')), pkg.main);
    assert.ok(has.has('examples/policies/schema.cedarschema'));
    assert.ok(has.has('examples/requests/side-door.json'));
    // The native sources compile from the package: every header they include is in it.
    for (const c of files.filter((f) => /^native\/[^/]+\.c$/.test(f)))
      for (const [, h] of readFileSync(join(ROOT, c), 'utf8').matchAll(/#include "([^"]+)"/g))
        assert.ok(has.has(`native/${h}`), `${c} includes native/${h}, which is not packed`);
    const unwanted = files.filter(
      (f) =>
        /\.test\.(js|d\.ts|js\.map)$/.test(f) ||
        /^dist\/(bench|testing)\//.test(f) ||
        /^dist\/store\/contract\./.test(f) || // the backends' test suite (node:test)
        /^dist\/inspect\/(fixtures\/|eval\.)/.test(f) ||
        /^src\/.*\.ts$/.test(f) ||
        /\.tsbuildinfo$/.test(f),
    );
    assert.deepEqual(unwanted, []);
  });

  it('runs from the tarball: npx cordon decide on its bundled examples', async () => {
    const dir = await tempDir('cordon-pack-');
    const { filename } = pack(['--pack-destination', dir]);
    const app = join(dir, 'app');
    const target = join(app, 'node_modules', 'cordon');
    await mkdir(target, { recursive: true });
    const untar = spawnSync('tar', [
      '-xzf',
      join(dir, filename),
      '-C',
      target,
      '--strip-components=1',
    ]);
    assert.equal(untar.status, 0, untar.stderr?.toString());
    // Where npm would install them: each declared dependency beside the package (the
    // repository's copies). A module the build imports but the package does not declare fails.
    for (const dep of Object.keys(pkg.dependencies)) {
      const link = join(app, 'node_modules', dep);
      await mkdir(join(link, '..'), { recursive: true });
      await symlink(join(ROOT, 'node_modules', dep), link, 'dir');
    }
    await mkdir(join(app, 'node_modules', '.bin'));
    for (const [name, file] of Object.entries(pkg.bin))
      await symlink(join('..', 'cordon', file), join(app, 'node_modules', '.bin', name));
    await writeFile(join(app, 'package.json'), '{"private": true}\n');
    const r = npxCordonDecide(app);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { decision: string }).decision, 'deny');
  });

  it(
    'installs from the tarball into an empty directory with npm, and runs',
    {
      skip:
        process.env.CORDON_TEST_PACK_INSTALL === '1'
          ? false
          : 'needs the npm registry: set CORDON_TEST_PACK_INSTALL=1 (CI does)',
    },
    async () => {
      const dir = await tempDir('cordon-pack-install-');
      const { filename } = pack(['--pack-destination', dir]);
      const app = join(dir, 'app');
      await mkdir(app);
      await writeFile(join(app, 'package.json'), '{"private": true}\n');
      const install = spawnSync(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, filename)],
        { cwd: app, encoding: 'utf8' },
      );
      assert.equal(install.status, 0, install.stderr);
      const r = npxCordonDecide(app);
      assert.equal(r.code, 0, r.err);
      assert.equal((JSON.parse(r.out) as { decision: string }).decision, 'deny');
    },
  );
});
