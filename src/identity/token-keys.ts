// Signing keys for delegation tokens: Ed25519, one PEM per key in DATA/keys/tokens/<kid>.pem.
// The newest key signs; every key in the directory verifies, until an operator removes it
// (rotation by kid). The public halves are served as a JWKS.

import {
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  createPrivateKey,
  type KeyObject,
} from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, type JWK } from 'jose';

export interface TokenKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export const tokenKeyDir = (dataDir: string) => join(dataDir, 'keys', 'tokens');

/** Key ids sort by creation: a millisecond timestamp (base 36, fixed width) and a random suffix. */
const kidTime = (kid: string) => parseInt(kid.split('-')[0] ?? '0', 36) || 0;

async function keyNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.pem')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return [];
  }
}

/** A new signing key; its id sorts after every existing one, so it is the one that signs. */
export async function createTokenKey(dataDir: string): Promise<TokenKey> {
  const dir = tokenKeyDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const last = (await keyNames(dir)).at(-1);
  const time = Math.max(Date.now(), last ? kidTime(last.slice(0, -4)) + 1 : 0);
  const kid = `${time.toString(36).padStart(9, '0')}-${randomBytes(3).toString('hex')}`;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeFile(join(dir, `${kid}.pem`), privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  return { kid, privateKey, publicKey };
}

/** All keys, oldest first; creates the first one when there is none. */
export async function loadTokenKeys(dataDir: string): Promise<TokenKey[]> {
  const dir = tokenKeyDir(dataDir);
  const names = await keyNames(dir);
  if (names.length === 0) return [await createTokenKey(dataDir)];
  return Promise.all(
    names.map(async (n) => {
      const privateKey = createPrivateKey(await readFile(join(dir, n), 'utf8'));
      if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${n}: not an Ed25519 key`);
      return { kid: n.slice(0, -4), privateKey, publicKey: createPublicKey(privateKey) };
    }),
  );
}

export async function jwks(keys: TokenKey[]): Promise<{ keys: JWK[] }> {
  return {
    keys: await Promise.all(
      keys.map(async (k) => ({
        ...(await exportJWK(k.publicKey)),
        kid: k.kid,
        alg: 'EdDSA',
        use: 'sig',
      })),
    ),
  };
}
