// PII: email, phone (libphonenumber-js), payment card (brand prefix, length, Luhn), US SSN,
// IBAN (ibantools: country, length, format, mod-97), IP addresses. Each recognizer has a base
// score; a context word near the match raises it, as Presidio's recognizers do.

import { isIPv4, isIPv6 } from 'node:net';
import { BoundedRegex } from '../regex.js';
import type { Detector, Finding } from '../types.js';
import { cardBrandFits } from './cards.js';
import { ibanAt, luhnValid, ssnValid } from './checksums.js';
import { phoneScore } from './phone.js';

interface Recognizer {
  type: string;
  /** A character every match contains: without it the pattern is not run. */
  requires?: string;
  regex: BoundedRegex;
  /** Widens a match to the whole value (the regex may match only a fast-to-find part). */
  expand?: (text: string, start: number, end: number) => number | undefined;
  /** Narrows a match to the value's own length (a trailing word the pattern took). */
  trim?: (candidate: string) => number | undefined;
  /** A score for the candidate, or undefined to reject it; `context()`: a context word is near. */
  validate(candidate: string, context: () => boolean): number | undefined;
  context: string[];
  /** Fewest digits a value has: candidates with fewer are dropped before anything else. */
  minDigits?: number;
  /** Not a value when this matches the text just before it (a version keyword, say). */
  notAfter?: RegExp;
}

const VERSION_WORD =
  /(?:\b(?:version|ver|v|build|release|rel|rev|revision|firmware|fw|sdk|api|patch|update|kernel|driver|os|node|python|chrome|firefox)\.?\s{0,2}[:=#]?\s{0,2}|\bv)$/i;

/** How far before (and after) a match a context word counts, in characters. */
const CONTEXT_BEFORE = 48;
const CONTEXT_AFTER = 24;
const CONTEXT_BOOST = 0.35;

const digitsOf = (s: string) => s.replace(/[^0-9]/g, '');

function countDigits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

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
      // "scheme://user:password@host" is a URL's credentials, not an address.
      if (/:\/\/[^\s/@]{0,128}:$/.test(text.slice(Math.max(0, s - 160), s))) return undefined;
      return s < at ? s : undefined;
    },
    validate: () => 0.85,
    context: ['email', 'e-mail', 'mail', 'contact'],
  },
  {
    type: 'credit_card',
    regex: new BoundedRegex(String.raw`\b[0-9](?:[ -]?[0-9]){11,18}\b`),
    validate: (c) => {
      const d = digitsOf(c);
      if (d.length < 12 || d.length > 19 || !luhnValid(d) || /^(\d)\1+$/.test(d)) return undefined;
      if (!cardBrandFits(d)) return 0.2;
      // 12- and 13-digit numbers are rarer as cards than as other numbers: written in groups,
      // or named as a card, they count.
      return d.length >= 14 || /[ -]/.test(c) ? 0.6 : 0.3;
    },
    context: ['card', 'credit', 'debit', 'visa', 'mastercard', 'amex', 'maestro', 'payment', 'cc'],
  },
  {
    type: 'us_ssn',
    // Dashed, dotted, spaced (one separator throughout) or bare.
    regex: new BoundedRegex(String.raw`\b[0-9]{3}([-. ]?)[0-9]{2}\1[0-9]{4}\b`),
    validate: (c) => {
      if (!ssnValid(digitsOf(c))) return undefined;
      // Separated is the written form; bare nine digits need a context word.
      return /^[0-9]{3}-[0-9]{2}-[0-9]{4}$/.test(c) ? 0.5 : /[. ]/.test(c) ? 0.45 : 0.15;
    },
    context: ['ssn', 'social security', 'social', 'security number', 'taxpayer', 'ss#'],
    // After "+" it is a phone number's tail ("+688 90 1234"), not an SSN.
    notAfter: /\+\s?$/,
  },
  {
    type: 'iban',
    // Upper or lower case, in groups separated by spaces or dashes, or none.
    regex: new BoundedRegex(String.raw`\b[A-Za-z]{2}[0-9]{2}(?:[ -]?[A-Za-z0-9]){11,30}\b`),
    trim: ibanAt,
    validate: () => 0.8,
    context: ['iban', 'bank', 'account', 'transfer'],
  },
  {
    type: 'phone',
    // "+" or "00" and a country code, or a national number; groups split by space, dot, dash,
    // slash or parentheses. libphonenumber-js decides what is a number (phone.ts).
    regex: new BoundedRegex(
      String.raw`(?:\+|\b00)?(?:\(0\)[ ]?)?\(?\b[0-9]{1,5}\)?(?:[ ]?\(0\))?(?:[ .\/-]{0,2}\(?[0-9]{1,6}\)?){1,6}\b`,
    ),
    minDigits: 7,
    validate: (c, context) => phoneScore(c, context),
    context: ['phone', 'tel', 'telephone', 'mobile', 'cell', 'call', 'fax', 'whatsapp', 'contact'],
  },
  {
    type: 'ip_address',
    requires: '.',
    regex: new BoundedRegex(String.raw`\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b`),
    validate: (c) => (isIPv4(c) ? 0.6 : undefined),
    context: IP_CONTEXT,
    // "version 1.2.3.4", "v10.0.0.1", "build 6.1.7601.1": a version, not an address.
    notAfter: VERSION_WORD,
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
        if (r.minDigits && countDigits(text, m.start, m.end) < r.minDigits) continue;
        if (r.expand) {
          const start = r.expand(text, m.start, m.end);
          if (start === undefined) continue;
          m.start = start;
        }
        if (r.trim) {
          const length = r.trim(text.slice(m.start, m.end));
          if (length === undefined) continue;
          m.end = m.start + length;
        }
        // A phone candidate's pattern may take a separator or parenthesis at its edges.
        while (m.end > m.start && /[ ./(-]/.test(text[m.end - 1]!)) m.end--;
        while (m.start < m.end && /[ ./)-]/.test(text[m.start]!)) m.start++;
        if (m.end - m.start < 2 || overlaps(m.start, m.end)) continue;
        if (r.type !== 'email' && !standsAlone(text, m.start, m.end)) continue;
        if (r.notAfter?.test(text.slice(Math.max(0, m.start - 24), m.start))) continue;
        const candidate = text.slice(m.start, m.end);
        let near: boolean | undefined;
        const context = () => (near ??= hasContext(lower, m.start, m.end, r));
        let score = r.validate(candidate, context);
        if (score === undefined) continue;
        if (context()) score = Math.min(1, score + CONTEXT_BOOST);
        if (score < this.threshold) continue;
        taken.push([m.start, m.end]);
        out.push({ detector: 'pii', type: r.type, start: m.start, end: m.end, score });
      }
    }
    return out.sort((a, b) => a.start - b.start);
  }
}
