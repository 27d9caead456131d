// Signed policy bundles: what `cordon policy bundle` writes opens only with the right key and
// untouched; `cordon serve` serves a bundle from a file or a URL, follows new versions, refuses
// unsigned, badly signed, tampered and non-compiling bundles while the last good set keeps
// serving, and starts on the kept bundle when the source is down.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { pack } from 'tar-stream';
import { formatVerifierKey, noteKey, signNote, type NoteKey } from '../audit/note.js';
import { configSchema } from '../config/config.js';
import { startServer } from '../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { CORDON_CLI } from '../testing/mcp.js';
import { BundleError, createBundle, manifestText, openBundle, parseManifest } from './bundle.js';
import { PolicyBundleFollower } from './bundle-source.js';
import { loadPolicyDir } from './load.js';

interface Signer {
  key: NoteKey;
  privateKey: KeyObject;
}
function newSigner(name = 'cordon-policy'): Signer {
  const { privateKey } = generateKeyPairSync('ed25519');
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
  return { key: noteKey(name, Buffer.from(x, 'base64url')), privateKey };
}

async function exampleCopy(): Promise<string> {
  const dir = await tempDir();
  await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  return dir;
}

/** A tarball with exactly these entries (for bundles `cordon policy bundle` would never write). */
async function tarball(
  entries: { name: string; text?: string; type?: 'file' | 'symlink'; linkname?: string }[],
): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries)
    if (e.type === 'symlink') p.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else p.entry({ name: e.name }, e.text ?? '');
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A correctly signed manifest over `files`, claiming `version`. */
function signedManifest(
  s: Signer,
  files: Record<string, string>,
  version = `sha256:${'0'.repeat(64)}`,
): string {
  const m = new Map(
    Object.entries(files).map(([f, t]) => [f, createHash('sha256').update(t).digest('hex')]),
  );
  return signNote(manifestText({ version, files: m }), s.key, s.privateKey);
}

const FREEZE =
  '@id("ledger-frozen") forbid(principal, action, resource == Tool::"erp/read_ledger");\n';

describe('policy bundles', () => {
  it('open with the signing key and hold the policy set the directory compiles to', async () => {
    const s = newSigner();
    const b = await createBundle(EXAMPLE_POLICIES, s);
    const loaded = await loadPolicyDir(EXAMPLE_POLICIES, { cacheDir: false });
    assert.ok(loaded.ok);
    assert.equal(b.version, loaded.set.version);
    const opened = await openBundle(b.tarball, s.key);
    assert.equal(opened.version, b.version);
    assert.ok(opened.sources.schema && opened.sources.entities);
    // Policy tests are not part of the set, so not of the bundle.
    assert.ok(opened.sources.policies.every((p) => !p.file.startsWith('tests/')));
    // The same directory makes the same bytes: a bundle can be rebuilt and compared.
    assert.deepEqual((await createBundle(EXAMPLE_POLICIES, s)).tarball, b.tarball);
  });

  it('are refused when signed by another key, unsigned, tampered, padded or not a tarball', async () => {
    const s = newSigner();
    const good = await createBundle(EXAMPLE_POLICIES, s);
    const refused = async (t: Buffer, key: NoteKey, why: RegExp) =>
      assert.rejects(
        openBundle(t, key),
        (e: unknown) => e instanceof BundleError && why.test(e.message),
      );

    await refused(good.tarball, newSigner().key, /not signed by cordon-policy\+/);
    // Same name and key id prefix cannot help: the signature itself is checked.
    const other = newSigner();
    await refused(good.tarball, { ...s.key, publicKey: other.key.publicKey }, /does not verify/);

    const files = { 'a.cedar': 'permit(principal, action, resource);\n' };
    await refused(
      await tarball([{ name: 'a.cedar', text: files['a.cedar'] }]),
      s.key,
      /no \.manifest: unsigned/,
    );
    await refused(
      await tarball([
        { name: '.manifest', text: signedManifest(s, files) },
        { name: 'a.cedar', text: 'forbid(principal, action, resource);\n' },
      ]),
      s.key,
      /a\.cedar does not match its manifest digest/,
    );
    await refused(
      await tarball([
        { name: '.manifest', text: signedManifest(s, files) },
        { name: 'a.cedar', text: files['a.cedar'] },
        { name: 'extra.cedar', text: 'permit(principal, action, resource);\n' },
      ]),
      s.key,
      /extra\.cedar is not in the manifest/,
    );
    await refused(
      await tarball([{ name: '.manifest', text: signedManifest(s, files) }]),
      s.key,
      /missing a\.cedar/,
    );
    // A manifest whose version is not what its files hash to (a replayed manifest, say).
    await refused(
      await tarball([
        { name: '.manifest', text: signedManifest(s, files) },
        { name: 'a.cedar', text: files['a.cedar'] },
      ]),
      s.key,
      /hash to sha256:[0-9a-f]{64}, not the manifest's/,
    );
    await refused(
      await tarball([
        { name: '.manifest', text: signedManifest(s, files) },
        { name: 'link.cedar', type: 'symlink', linkname: '/etc/passwd' },
      ]),
      s.key,
      /link\.cedar is a symlink, not a file/,
    );
    await refused(Buffer.from('not a bundle'), s.key, /not a gzipped tarball/);
  });

  it('refuse manifests naming paths outside the policy directory', () => {
    const head = `cordon-policy-bundle v1\nversion sha256:${'0'.repeat(64)}\n`;
    for (const path of [
      '../escape.cedar',
      '/etc/x.cedar',
      '.hidden/a.cedar',
      'run.sh',
      'tests/t.cedar',
    ])
      assert.throws(
        () => parseManifest(`${head}file ${'a'.repeat(64)} ${path}\n`),
        /unsafe path/,
        path,
      );
  });
});

interface Health {
  policyVersion: string;
  policyBundle: { source: string; version: string; error?: string };
}

describe('serving from a bundle', () => {
  const silent = pino({ level: 'silent' });

  it('follows new versions and keeps the last good set when a bundle is refused', async () => {
    const s = newSigner();
    const dir = await exampleCopy();
    const data = await tempDir();
    const file = join(data, 'policies.tar.gz');
    await writeFile(file, (await createBundle(dir, s)).tarball);
    const f = await PolicyBundleFollower.open({
      source: file,
      publicKey: formatVerifierKey(s.key),
      dataDir: join(data, 'd'),
      pollSeconds: 3600,
      load: { cacheDir: false },
    });
    try {
      const v1 = f.policies.current().version;
      await writeFile(join(dir, 'freeze.cedar'), FREEZE);
      const next = await createBundle(dir, s);
      await writeFile(file, next.tarball);
      await f.check();
      assert.equal(f.policies.current().version, next.version);
      assert.notEqual(next.version, v1);
      assert.equal(f.status().error, undefined);

      // Signed by someone else: refused, the set stays.
      await writeFile(join(dir, 'other.cedar'), 'permit(principal, action, resource);\n');
      await writeFile(file, (await createBundle(dir, newSigner())).tarball);
      await f.check();
      assert.equal(f.policies.current().version, next.version);
      assert.match(f.status().error!, /not signed by/);

      // Correctly signed but not compiling: refused, the set stays.
      await writeFile(join(dir, 'broken.cedar'), 'permit(principal, action,\n');
      await writeFile(file, (await createBundle(dir, s)).tarball);
      await f.check();
      assert.equal(f.policies.current().version, next.version);
      assert.match(f.status().error!, /does not compile: broken\.cedar:1:/);
    } finally {
      await f.close();
    }
  });

  it('serves a bundle from a URL, and restarts on the kept bundle while the URL is down', async () => {
    const s = newSigner();
    const b = await createBundle(EXAMPLE_POLICIES, s);
    let body: Buffer | undefined = b.tarball;
    const server: Server = createServer((_req, res) => {
      if (body) res.end(body);
      else res.writeHead(503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/bundle.tar.gz`;
    const data = await tempDir();
    const config = (over: object = {}) =>
      configSchema.parse({
        policies: url,
        policyBundle: { publicKey: formatVerifierKey(s.key) },
        data,
        port: 0,
        audit: { enabled: false },
        ...over,
      });
    try {
      let srv = await startServer(config(), silent);
      let health = (await (await fetch(`${srv.url}/healthz`)).json()) as Health;
      assert.equal(health.policyVersion, b.version);
      assert.equal(health.policyBundle.source, url);
      assert.equal(health.policyBundle.version, b.version);
      assert.equal(health.policyBundle.error, undefined);
      await srv.close();

      body = undefined; // the bundle server is down
      srv = await startServer(config(), silent);
      health = (await (await fetch(`${srv.url}/healthz`)).json()) as Health;
      assert.equal(health.policyVersion, b.version);
      assert.match(
        health.policyBundle.error ?? '',
        /HTTP 503 \(serving the bundle kept from an earlier start\)/,
      );
      await srv.close();

      // Down, and nothing kept (a new node): no policy set, so no start.
      await assert.rejects(
        startServer(config({ data: await tempDir() }), silent),
        /HTTP 503; no verified bundle was kept/,
      );
      // Without a verifier key, a bundle is never loaded.
      body = b.tarball;
      await assert.rejects(
        startServer(config({ policyBundle: undefined }), silent),
        /set policyBundle\.publicKey/,
      );
    } finally {
      server.close();
    }
  });

  it('reports the serving version as a metric', async () => {
    const s = newSigner();
    const data = await tempDir();
    const file = join(data, 'b.tar.gz');
    const b = await createBundle(EXAMPLE_POLICIES, s);
    await writeFile(file, b.tarball);
    const srv = await startServer(
      configSchema.parse({
        policies: file,
        policyBundle: { publicKey: formatVerifierKey(s.key) },
        data,
        port: 0,
        audit: { enabled: false },
      }),
      silent,
    );
    try {
      const { readFile: read } = await import('node:fs/promises');
      const admin = (await read(join(data, 'admin.credential'), 'utf8')).trim();
      const text = await (
        await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })
      ).text();
      assert.match(text, new RegExp(`cordon_policy_version_info\\{version="${b.version}"\\} 1`));
    } finally {
      await srv.close();
    }
  });
});

describe('cordon policy keygen / bundle / unbundle', () => {
  it('signs a directory, and unbundles it only with the printed verifier key', async () => {
    const dir = await tempDir();
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [CORDON_CLI, ...args], { encoding: 'utf8' });
    const key = join(dir, 'bundle.key');
    const gen = cli('policy', 'keygen', '--out', key);
    assert.equal(gen.status, 0, gen.stderr);
    const vkey = gen.stdout.trim();
    assert.match(vkey, /^cordon-policy\+[0-9a-f]{8}\+/);
    const out = join(dir, 'p.tar.gz');
    const made = cli('policy', 'bundle', EXAMPLE_POLICIES, '--out', out, '--key', key, '--json');
    assert.equal(made.status, 0, made.stderr);
    const info = JSON.parse(made.stdout) as { version: string; verifierKey: string };
    assert.equal(info.verifierKey, vkey);

    const target = join(dir, 'policies');
    const ok = cli('policy', 'unbundle', out, '--key', vkey, '--out', target);
    assert.equal(ok.status, 0, ok.stderr);
    const loaded = await loadPolicyDir(target, { cacheDir: false });
    assert.ok(loaded.ok);
    assert.equal(loaded.set.version, info.version);

    const stranger = formatVerifierKey(newSigner().key);
    const bad = cli('policy', 'unbundle', out, '--key', stranger, '--out', join(dir, 'x'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not signed by cordon-policy\+/);

    // A directory that does not compile is not bundled.
    const broken = await exampleCopy();
    await writeFile(join(broken, 'broken.cedar'), 'permit(principal,\n');
    const no = cli('policy', 'bundle', broken, '--out', join(dir, 'b.tar.gz'), '--key', key);
    assert.equal(no.status, 1);
    assert.match(no.stderr, /does not compile; no bundle written/);
    await assert.rejects(readFile(join(dir, 'b.tar.gz')));
    await rm(dir, { recursive: true, force: true });
  });
});
