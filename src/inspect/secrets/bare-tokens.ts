// Provider tokens recognised by their own shape, with no keyword next to them. gitleaks finds
// Discord, Telegram and Mailchimp credentials only after a word such as "discord =", so a bare
// token in a log line or a chat message passed; and its JWT rule needs the third, signature
// part. Each shape here is specific enough alone, and is checked beyond the regex where the
// token carries structure (a Discord token's first part is a base64 user id, a JWT's header is
// JSON naming an algorithm).

import { BoundedRegex } from '../regex.js';
import type { Finding } from '../types.js';

interface TokenShape {
  type: string;
  /** A substring every match contains: without it the pattern is not run. */
  requires: string;
  regex: BoundedRegex;
  valid?: (token: string) => boolean;
}

const b64url = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

const SHAPES: TokenShape[] = [
  {
    type: 'discord-bot-token',
    requires: '.',
    regex: new BoundedRegex(
      String.raw`(?<![A-Za-z0-9_-])[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_-])`,
    ),
    // The first part is the bot's user id (a snowflake) in base64.
    valid: (t) => /^[0-9]{17,20}$/.test(b64url(t.slice(0, t.indexOf('.'))).toString('latin1')),
  },
  {
    type: 'telegram-bot-token',
    requires: ':AA',
    regex: new BoundedRegex(
      String.raw`(?<![A-Za-z0-9_:-])[0-9]{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])`,
    ),
  },
  {
    type: 'mailchimp-api-key',
    requires: '-us',
    regex: new BoundedRegex(String.raw`\b[0-9a-f]{32}-us[0-9]{1,2}\b`),
  },
  {
    type: 'npm-access-token',
    requires: 'npm_',
    regex: new BoundedRegex(String.raw`\bnpm_[A-Za-z0-9]{36}\b`),
  },
  {
    // Two parts (header.payload, an unsigned token or one whose signature was cut off) or three.
    type: 'jwt',
    requires: 'eyJ',
    regex: new BoundedRegex(
      String.raw`(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{8,8192}(?:\.[A-Za-z0-9_-]{0,2048})?`,
    ),
    valid: (t) => {
      try {
        const header = JSON.parse(b64url(t.slice(0, t.indexOf('.'))).toString('utf8')) as unknown;
        return (
          typeof header === 'object' && header !== null && ('alg' in header || 'typ' in header)
        );
      } catch {
        return false;
      }
    },
  },
];

export function bareTokens(text: string): Finding[] {
  const out: Finding[] = [];
  for (const shape of SHAPES) {
    if (!text.includes(shape.requires)) continue;
    for (const m of shape.regex.matches(text)) {
      const token = text.slice(m.start, m.end);
      if (shape.valid && !shape.valid(token)) continue;
      out.push({ detector: 'secrets', type: shape.type, start: m.start, end: m.end, score: 0.9 });
    }
  }
  return out;
}
