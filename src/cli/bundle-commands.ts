// `cordon policy keygen`, `cordon policy bundle` and `cordon policy unbundle`: signed policy
// bundles (docs/deploy.md). Each action loads the bundle code only when it runs.

import type { Command } from 'commander';
import { UserError } from './errors.js';

/** The key name in the signed manifest; a verifier key carries it. */
const DEFAULT_KEY_NAME = 'cordon-policy';

async function signer(keyFile: string, name: string) {
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const { readFile } = await import('node:fs/promises');
  const { noteKey } = await import('../audit/note.js');
  let privateKey;
  try {
    privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read the signing key ${keyFile}: ${(e as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new UserError(`${keyFile} is not an Ed25519 private key`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return { key: noteKey(name, Buffer.from(jwk.x!, 'base64url')), privateKey };
}

export function registerBundleCommands(
  policy: Command,
  exit: (code: number) => void,
  out: (s: string) => void = (s) => void process.stdout.write(`${s}\n`),
): void {
  policy
    .command('keygen')
    .description('create an Ed25519 key for signing policy bundles; prints its verifier key')
    .requiredOption('--out <file>', 'where to write the private key (PKCS#8 PEM, mode 0600)')
    .option('--name <name>', 'the key name in signed manifests', DEFAULT_KEY_NAME)
    .action(async (o: { out: string; name: string }) => {
      const { generateKeyPairSync } = await import('node:crypto');
      const { writeFile } = await import('node:fs/promises');
      const { formatVerifierKey } = await import('../audit/note.js');
      const { privateKey } = generateKeyPairSync('ed25519');
      try {
        await writeFile(o.out, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
          mode: 0o600,
          flag: 'wx',
        });
      } catch (e) {
        throw new UserError(`cannot create ${o.out}: ${(e as Error).message}`);
      }
      out(formatVerifierKey((await signer(o.out, o.name)).key));
      exit(0);
    });

  policy
    .command('bundle')
    .description('pack a policy directory as a signed bundle (tar.gz) holding its version')
    .argument('<dir>')
    .requiredOption('--out <file>', 'the bundle to write (.tar.gz)')
    .requiredOption('--key <file>', 'the Ed25519 signing key (PKCS#8 PEM; `cordon policy keygen`)')
    .option('--name <name>', 'the key name, as given to keygen', DEFAULT_KEY_NAME)
    .option('--json', 'print {version, files, verifierKey} as JSON')
    .action(async (dir: string, o: { out: string; key: string; name: string; json?: boolean }) => {
      const { createBundle } = await import('../policy/bundle.js');
      const { formatVerifierKey } = await import('../audit/note.js');
      const { loadPolicyDir } = await import('../policy/load.js');
      const { writeFile } = await import('node:fs/promises');
      // A bundle that does not compile would be refused by every node: refuse it here first.
      const compiled = await loadPolicyDir(dir, { cacheDir: false });
      if (!compiled.ok) {
        const { formatLocated } = await import('../core/source-location.js');
        throw new UserError(
          `${dir} does not compile; no bundle written:\n${compiled.errors.map(formatLocated).join('\n')}`,
        );
      }
      compiled.set.dispose();
      const s = await signer(o.key, o.name);
      const b = await createBundle(dir, s);
      await writeFile(o.out, b.tarball);
      const verifierKey = formatVerifierKey(s.key);
      if (o.json) out(JSON.stringify({ version: b.version, files: b.files, verifierKey }));
      else out(`${o.out}: ${b.files} files, version ${b.version}, signed by ${verifierKey}`);
      exit(0);
    });

  policy
    .command('unbundle')
    .description('verify a signed bundle (file or URL) and write its policy directory')
    .argument('<source>', 'a .tar.gz file or an http(s) URL')
    .requiredOption('--key <vkey>', 'the verifier key it must be signed with (text or file)')
    .requiredOption('--out <dir>', 'the directory to write the policies to')
    .action(async (source: string, o: { key: string; out: string }) => {
      const { openBundle, writeBundleDir, BundleError } = await import('../policy/bundle.js');
      const { readBundleSource } = await import('../policy/bundle-source.js');
      const { readVerifierKey } = await import('../audit/keys.js');
      const { rename, rm } = await import('node:fs/promises');
      const { dirname } = await import('node:path');
      let key;
      try {
        key = await readVerifierKey(o.key);
      } catch (e) {
        throw new UserError(`--key: ${(e as Error).message}`);
      }
      try {
        const b = await openBundle(await readBundleSource(source), key);
        const written = await writeBundleDir(dirname(o.out), b);
        await rm(o.out, { recursive: true, force: true });
        await rename(written, o.out);
        out(`${o.out}: version ${b.version}`);
        exit(0);
      } catch (e) {
        if (e instanceof BundleError) throw new UserError(`${source}: ${e.message}`);
        throw e;
      }
    });
}
