// Test helpers for the API's authentication: an admin secret for apps built in the test, and
// the admin credential a started server keeps in its data directory.

import { randomBytes } from 'node:crypto';
import { readAdminCredential, Secret } from '../identity/credentials.js';
import type { TokenService } from '../identity/tokens.js';
import type { AuthOptions } from '../pep/http/auth.js';

/** Auth options with a fresh admin secret, and the header that presents it. */
export function testAuth(tokens?: TokenService, extra: Partial<AuthOptions> = {}) {
  const secret = `cordon-admin-${randomBytes(32).toString('base64url')}`;
  const auth: AuthOptions = {
    admin: [new Secret(secret)],
    ...(tokens ? { tokens } : {}),
    ...extra,
  };
  return { auth, admin: { authorization: `Bearer ${secret}` } };
}

/** The Authorization header carrying the admin credential in a server's data directory. */
export async function adminHeader(data: string): Promise<{ authorization: string }> {
  const secret = await readAdminCredential(data);
  if (!secret) throw new Error(`no admin credential in ${data}`);
  return { authorization: `Bearer ${secret}` };
}
