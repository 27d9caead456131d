// The log's Ed25519 signing key, kept in the data directory: keys/audit.key (PKCS#8 PEM,
// mode 0600) and keys/audit.vkey (the verifier key to hand to auditors). Created on first use.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatVerifierKey, noteKey, parseVerifierKey, type NoteKey } from './note.js';

export interface SigningKey {
  key: NoteKey;
  privateKey: KeyObject;
}

export const keyPaths = (dataDir: string) => ({
  dir: join(dataDir, 'keys'),
  private: join(dataDir, 'keys', 'audit.key'),
  verifier: join(dataDir, 'keys', 'audit.vkey'),
});

function rawPublicKey(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

/** Loads the signing key, or creates one named `name` when the directory has none. */
export async function loadOrCreateSigningKey(dataDir: string, name: string): Promise<SigningKey> {
  const p = keyPaths(dataDir);
  try {
    const privateKey = createPrivateKey(await readFile(p.private, 'utf8'));
    const stored = parseVerifierKey(await readFile(p.verifier, 'utf8'));
    if (!stored.publicKey.equals(rawPublicKey(privateKey)))
      throw new Error(`${p.verifier} does not match ${p.private}`);
    return { key: stored, privateKey };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = noteKey(name, rawPublicKey(privateKey));
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeFile(p.private, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  await writeFile(p.verifier, `${formatVerifierKey(key)}\n`, { flag: 'wx' });
  return { key, privateKey };
}

/** A verifier key given as a file holding it, or as the key text itself. */
export async function readVerifierKey(fileOrText: string): Promise<NoteKey> {
  let text: string;
  try {
    text = await readFile(fileOrText, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENAMETOOLONG') throw e;
    text = fileOrText;
  }
  return parseVerifierKey(text);
}
