// PII: email, phone, payment card (Luhn), US SSN, IBAN (mod-97), IP addresses. Each recognizer
// has a base score; a context word near the match raises it, as Presidio's recognizers do.

import { isIPv4, isIPv6 } from 'node:net';
import { BoundedRegex } from '../regex.js';
import type { Detector, Finding } from '../types.js';
import { ibanValid, luhnValid, ssnValid } from './checksums.js';

interface Recognizer {
  type: string;
  /** A character every match contains: without it the pattern is not run. */
  requires?: string;
  regex: BoundedRegex;
  /** Widens a match to the whole value (the regex may match only a fast-to-find part). */
  expand?: (text: string, start: number, end: number) => number | undefined;
  /** A score for the candidate, or undefined to reject it. */
  validate(candidate: string): number | undefined;
  context: string[];
}

/** How far before (and after) a match a context word counts, in characters. */
const CONTEXT_BEFORE = 48;
const CONTEXT_AFTER = 24;
const CONTEXT_BOOST = 0.35;

const digitsOf = (s: string) => s.replace(/[^0-9]/g, '');

const IP_CONTEXT = ['ip', 'address', 'host', 'client', 'source', 'addr'];

const RECOGNIZERS: Recognizer[] = [
  {
    type: 'email',
    requires: '@',
    // The domain from the "@" (V8 finds a literal first character fast); the local part is
    // taken by scanning back from it.
    regex: new BoundedRegex(String.raw`@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}\b`),
    expand: (text, at) => {
      let s = at;
      while (s > 0 && at - s < 64 && /[A-Za-z0-9._%+-]/.test(text[s - 1]!)) s--;
      while (s < at && !/[A-Za-z0-9]/.test(text[s]!)) s++;
      return s < at ? s : undefined;
    },
    validate: () => 0.85,
    context: ['email', 'e-mail', 'mail', 'contact'],
  },
  {
    type: 'credit_card',
    regex: new BoundedRegex(String.raw`\b[0-9](?:[ -]?[0-9]){12,18}\b`),
    validate: (c) => {
      const d = digitsOf(c);
      if (d.length < 13 || d.length > 19 || !luhnValid(d) || /^(\d)\1+$/.test(d)) return undefined;
      // Card ranges: Visa 4, Mastercard 5/2, Amex 3, Discover 6.
      return /^[2-6]/.test(d) ? 0.6 : 0.3;
    },
    context: ['card', 'credit', 'visa', 'mastercard', 'amex', 'payment', 'cc'],
  },
  {
    type: 'us_ssn',
    regex: new BoundedRegex(String.raw`\b[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}\b`),
    validate: (c) => {
      if (!ssnValid(digitsOf(c))) return undefined;
      // Dashed is the common written form; bare nine digits need a context word.
      return /^[0-9]{3}-[0-9]{2}-[0-9]{4}$/.test(c) ? 0.5 : 0.15;
    },
    context: ['ssn', 'social security', 'social', 'security number', 'taxpayer'],
  },
  {
    type: 'iban',
    regex: new BoundedRegex(String.raw`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b`),
    validate: (c) => (ibanValid(c) ? 0.8 : undefined),
    context: ['iban', 'bank', 'account', 'transfer'],
  },
  {
    type: 'phone',
    regex: new BoundedRegex(
      String.raw`(?:\+[1-9][0-9]{0,2}[ .-]?)?(?:\([0-9]{2,4}\)|\b[0-9]{2,4})[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}\b`,
    ),
    validate: (c) => {
      const d = digitsOf(c);
      if (d.length < 9 || d.length > 15) return undefined;
      if (c.startsWith('+')) return 0.6;
      // Separated groups look like a phone number; a bare digit run rarely is one.
      return /[ .()-]/.test(c) ? 0.45 : 0.2;
    },
    context: ['phone', 'tel', 'telephone', 'mobile', 'cell', 'call', 'fax', 'whatsapp'],
  },
  {
    type: 'ip_address',
    requires: '.',
    regex: new BoundedRegex(String.raw`\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b`),
    validate: (c) => (isIPv4(c) ? 0.6 : undefined),
    context: IP_CONTEXT,
  },
  {
    type: 'ip_address',
    requires: ':',
    // IPv6 in full (eight groups, unrolled: V8 scans those fast) …
    regex: new BoundedRegex(
      String.raw`\b[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}\b`,
    ),
    validate: (c) => (isIPv6(c) ? 0.6 : undefined),
    context: IP_CONTEXT,
  },
  {
    type: 'ip_address',
    requires: '::',
    // … or compressed with "::".
    regex: new BoundedRegex(
      String.raw`(?:\b[0-9A-Fa-f]{1,4}:){0,6}:(?::?[0-9A-Fa-f]{1,4}){1,7}\b|\b(?:[0-9A-Fa-f]{1,4}:){1,7}:`,
    ),
    validate: (c) => (isIPv6(c) && /[0-9A-Fa-f]/.test(c) ? 0.6 : undefined),
    context: IP_CONTEXT,
  },
];

/** A context word as a whole word; the windows searched are short, so a JS RegExp is safe. */
const contextRegex = (words: string[]) =>
  new RegExp(
    `(?:^|[^a-z])(?:${words.map((w) => w.replace(/[-\s]/g, '[-\\s_]?')).join('|')})(?:$|[^a-z])`,
  );

const CONTEXT = new Map(RECOGNIZERS.map((r) => [r, contextRegex(r.context)]));

function hasContext(lower: string, start: number, end: number, r: Recognizer): boolean {
  const re = CONTEXT.get(r)!;
  return (
    re.test(lower.slice(Math.max(0, start - CONTEXT_BEFORE), start)) ||
    re.test(lower.slice(end, end + CONTEXT_AFTER))
  );
}

/**
 * A number that is part of a longer token is not one: the tail of a UUID, a segment of a
 * version string, digits inside a hash or an identifier, a digit group of a longer number.
 */
function standsAlone(text: string, start: number, end: number): boolean {
  const before = text.slice(Math.max(0, start - 2), start);
  const after = text.slice(end, end + 2);
  return (
    !/(?:[A-Za-z0-9_-]|[0-9][ .-])$/.test(before) &&
    !/^(?:[A-Za-z0-9_]|[-.][A-Za-z0-9]|[ ][0-9])/.test(after)
  );
}

export interface PiiOptions {
  /** Findings under this score are dropped (Presidio's default threshold is similar). */
  threshold?: number;
}

export class PiiDetector implements Detector {
  readonly name = 'pii' as const;
  private readonly threshold: number;

  constructor(o: PiiOptions = {}) {
    this.threshold = o.threshold ?? 0.4;
  }

  detect(text: string): Finding[] {
    const lower = text.toLowerCase();
    const out: Finding[] = [];
    const taken: [number, number][] = [];
    const overlaps = (s: number, e: number) => taken.some(([a, b]) => s < b && a < e);
    // Recognizers run in order of specificity: a span claimed by a card is not also a phone.
    for (const r of RECOGNIZERS) {
      if (r.requires && !text.includes(r.requires)) continue;
      for (const m of r.regex.matches(text)) {
        if (r.expand) {
          const start = r.expand(text, m.start, m.end);
          if (start === undefined) continue;
          m.start = start;
        }
        const candidate = text.slice(m.start, m.end);
        let score = r.validate(candidate);
        if (score === undefined || overlaps(m.start, m.end)) continue;
        if (r.type !== 'email' && !standsAlone(text, m.start, m.end)) continue;
        if (hasContext(lower, m.start, m.end, r)) score = Math.min(1, score + CONTEXT_BOOST);
        if (score < this.threshold) continue;
        taken.push([m.start, m.end]);
        out.push({ detector: 'pii', type: r.type, start: m.start, end: m.end, score });
      }
    }
    return out.sort((a, b) => a.start - b.start);
  }
}
