// Shared-secret credentials: the local admin credential `cordon serve` keeps in the data
// directory (so the CLI works with no setup), and the credentials of PEPs that call the
// decision API from another process. Secrets are compared in constant time, by digest.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The admin credential's file in the data directory (mode 0600). */
export const ADMIN_CREDENTIAL_FILE = 'admin.credential';
const PREFIX = 'cordon-admin-';
const SECRET_BYTES = 32;

export class CredentialError extends Error {}

export const adminCredentialPath = (dataDir: string) => join(dataDir, ADMIN_CREDENTIAL_FILE);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** A secret that answers `matches` in constant time (digests have equal length). */
export class Secret {
  private readonly hash: Buffer;
  constructor(secret: string) {
    if (secret.length < 16) throw new CredentialError('a credential needs at least 16 characters');
    this.hash = digest(secret);
  }
  matches(candidate: string): boolean {
    return timingSafeEqual(this.hash, digest(candidate));
  }
}

function checkAdminSecret(text: string, file: string): string {
  const secret = text.trim();
  if (!secret.startsWith(PREFIX) || secret.length < PREFIX.length + 32)
    throw new CredentialError(`${file} does not hold a Cordon admin credential`);
  return secret;
}

/** The admin credential in the data directory, or undefined when there is none yet. */
export async function readAdminCredential(dataDir: string): Promise<string | undefined> {
  const file = adminCredentialPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return checkAdminSecret(text, file);
}

/**
 * The admin credential, created on first use. Created atomically: the secret is written to a
 * private temporary file (0600, exclusive) and linked into place, so a reader never sees a
 * partial file, and two servers starting together agree on one secret (link fails for the later).
 */
export async function loadOrCreateAdminCredential(dataDir: string): Promise<string> {
  const existing = await readAdminCredential(dataDir);
  if (existing) return existing;
  const secret = `${PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;
  const tmp = join(
    dataDir,
    `.${ADMIN_CREDENTIAL_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`,
  );
  await writeFile(tmp, `${secret}\n`, { mode: 0o600, flag: 'wx', flush: true });
  try {
    await link(tmp, adminCredentialPath(dataDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const won = await readAdminCredential(dataDir);
    if (!won) throw e;
    return won;
  } finally {
    await rm(tmp, { force: true });
  }
  return secret;
}
