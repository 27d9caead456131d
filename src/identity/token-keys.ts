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

/** Key ids sort by creation time: a UTC timestamp and a random suffix. */
function newKid(): string {
  return `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

export async function createTokenKey(dataDir: string): Promise<TokenKey> {
  const dir = tokenKeyDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = newKid();
  await writeFile(join(dir, `${kid}.pem`), privateKey.export({ format: 'pem', type: 'pkcs8' }), {
    mode: 0o600,
    flag: 'wx',
  });
  return { kid, privateKey, publicKey };
}

/** All keys, oldest first; creates the first one when there is none. */
export async function loadTokenKeys(dataDir: string): Promise<TokenKey[]> {
  const dir = tokenKeyDir(dataDir);
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.pem')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
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
