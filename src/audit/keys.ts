// The log's Ed25519 signing key. By default it is created in the data directory
// (keys/audit.key, PKCS#8 PEM, mode 0600), which keeps a first run free of set-up but lets whoever
// can write the data directory re-sign the log. A key file elsewhere (`audit.signingKey`,
// CORDON_AUDIT_SIGNING_KEY) keeps the key apart from the data it signs. Either way the verifier
// key is written to keys/audit.vkey, for reference: auditors pin their own copy.

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { formatVerifierKey, noteKey, parseVerifierKey, type NoteKey } from './note.js';

export interface SigningKey {
  key: NoteKey;
  privateKey: KeyObject;
  /** Where the private key is read from. */
  file: string;
  /** The key is inside the data directory: it protects nothing against whoever can write it. */
  inDataDir: boolean;
}

export const keyPaths = (dataDir: string) => ({
  dir: join(dataDir, 'keys'),
  private: join(dataDir, 'keys', 'audit.key'),
  verifier: join(dataDir, 'keys', 'audit.vkey'),
});

/** `file` is `dir` or somewhere below it. */
export function isInside(file: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(file));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function rawPublicKey(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

async function readPrivateKey(file: string): Promise<KeyObject | undefined> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
  return key;
}

async function createPrivateKeyFile(file: string): Promise<KeyObject> {
  const { privateKey } = generateKeyPairSync('ed25519');
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  return privateKey;
}

/** Writes the verifier key beside the log unless it is already there. */
async function writeVerifierKey(file: string, key: NoteKey): Promise<void> {
  const text = `${formatVerifierKey(key)}\n`;
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === text) return;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, text);
}

/**
 * Loads the signing key for the log named `name`, or creates it when it does not exist yet: in
 * `keyFile` when given, else in the data directory.
 */
export async function loadOrCreateSigningKey(
  dataDir: string,
  name: string,
  keyFile?: string,
): Promise<SigningKey> {
  const p = keyPaths(dataDir);
  if (keyFile !== undefined) {
    let privateKey = await readPrivateKey(keyFile);
    if (!privateKey) {
      // A log signed so far by the key in the data directory: creating a new key would leave
      // every existing checkpoint unverifiable with it. Say how to move the key instead.
      if (existsSync(p.private))
        throw new Error(
          `audit signing key ${keyFile} does not exist, and the log is signed with ${p.private}: move that file to ${keyFile} (and keep no copy in the data directory)`,
        );
      privateKey = await createPrivateKeyFile(keyFile);
    }
    const key = noteKey(name, rawPublicKey(privateKey));
    await writeVerifierKey(p.verifier, key);
    return { key, privateKey, file: keyFile, inDataDir: isInside(keyFile, dataDir) };
  }
  const privateKey = await readPrivateKey(p.private);
  if (privateKey) {
    const stored = parseVerifierKey(await readFile(p.verifier, 'utf8'));
    if (!stored.publicKey.equals(rawPublicKey(privateKey)))
      throw new Error(`${p.verifier} does not match ${p.private}`);
    return { key: stored, privateKey, file: p.private, inDataDir: true };
  }
  const created = await createPrivateKeyFile(p.private);
  const key = noteKey(name, rawPublicKey(created));
  await writeFile(p.verifier, `${formatVerifierKey(key)}\n`, { flag: 'wx' });
  return { key, privateKey: created, file: p.private, inDataDir: true };
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
