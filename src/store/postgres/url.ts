// Connection settings from a PostgreSQL URL as operators write them: a URL without a user name
// connects as the OS user (what psql does; node-postgres otherwise needs $USER or $PGUSER, which
// containers and service managers often leave unset), and URLs are shown without their password.

import { userInfo } from 'node:os';
import type { ClientConfig } from 'pg';

export function postgresConfig(url: string): ClientConfig {
  if (process.env.PGUSER || process.env.USER) return { connectionString: url };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL (a libpq key=value string): node-postgres reads it as it is.
    return { connectionString: url };
  }
  if (u.username === '') {
    try {
      // In the URL itself: node-postgres lets the URL's (empty) user override config.user.
      u.username = encodeURIComponent(userInfo().username);
    } catch {
      // No passwd entry for this uid: leave it to the server to refuse with its reason.
    }
  }
  return { connectionString: u.toString() };
}

/** `url` as printed in messages and /healthz: the password replaced by ***. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/password\s*=\s*\S+/gi, 'password=***');
  }
}
