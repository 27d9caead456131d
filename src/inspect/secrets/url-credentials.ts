// Passwords inside connection URLs (postgres://app:s3cret@db:5432, https://user:token@host).
// No keyword names them and their value has no fixed shape, so no gitleaks rule finds them:
// the URL's own syntax does. The finding's span is the password, not the user name or host.

import type { Finding } from '../types.js';
import { isPlaceholder } from './placeholder.js';

const SCHEME = /[A-Za-z][A-Za-z0-9+.-]{0,30}$/;
/** Characters that end a userinfo part before its "@" (RFC 3986: no "/", "?", "#", space). */
const ENDS_USERINFO = /[\s/?#"'`<>\\]/;

export function urlCredentials(text: string): Finding[] {
  const out: Finding[] = [];
  for (let at = text.indexOf('://'); at >= 0; at = text.indexOf('://', at + 3)) {
    if (!SCHEME.test(text.slice(Math.max(0, at - 31), at))) continue;
    const from = at + 3;
    const limit = Math.min(text.length, from + 512);
    let colon = -1;
    let end = -1;
    for (let i = from; i < limit; i++) {
      const c = text[i]!;
      if (c === '@') {
        // The last "@" before the host wins (a password may contain an unencoded "@").
        end = i;
        continue;
      }
      if (ENDS_USERINFO.test(c)) break;
      if (c === ':' && colon < 0 && end < 0) colon = i;
    }
    if (colon < 0 || end < colon + 1) continue;
    const host = text.slice(end + 1, end + 2);
    if (!/[A-Za-z0-9[]/.test(host)) continue;
    const password = text.slice(colon + 1, end);
    if (
      password.length < 3 ||
      isPlaceholder(password) ||
      /^(?:pass(?:word)?|pwd|secret)$/i.test(password)
    )
      continue;
    out.push({ detector: 'secrets', type: 'url-password', start: colon + 1, end, score: 0.9 });
  }
  return out;
}
