// Redaction operators over findings: replace with "[REDACTED:TYPE]", mask, salted hash, drop.
// Overlapping findings are merged first, so no part of a found value survives.

import { createHmac, randomBytes } from 'node:crypto';

/**
 * The hash key when none is given: random, one per process, so equal values hash equal within
 * a process but a redacted SSN or phone number cannot be found by hashing every candidate.
 */
const PROCESS_SALT = randomBytes(32).toString('hex');
import type { Finding } from './types.js';

export const REDACT_OPERATORS = ['replace', 'mask', 'hash', 'drop'] as const;
export type RedactOperator = (typeof REDACT_OPERATORS)[number];

export interface RedactOptions {
  operator?: RedactOperator;
  /** The key of the salted (HMAC-SHA-256) hash: equal values hash equal under one salt only. */
  salt?: string;
  /** mask: characters left visible at the end of PII values (0 for secrets, always). */
  keepLast?: number;
}

export interface Span {
  start: number;
  end: number;
  type: string;
  detector: Finding['detector'];
}

/** Findings as disjoint spans in text order; an overlap keeps the wider span's type. */
export function mergeSpans(
  findings: Pick<Finding, 'start' | 'end' | 'type' | 'detector'>[],
): Span[] {
  const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  for (const f of sorted) {
    const last = out[out.length - 1];
    if (last && f.start < last.end) {
      if (f.end > last.end) last.end = f.end;
      continue;
    }
    out.push({ start: f.start, end: f.end, type: f.type, detector: f.detector });
  }
  return out;
}

export function replacement(value: string, span: Span, o: RedactOptions = {}): string {
  const op = o.operator ?? 'replace';
  const type = span.type.toUpperCase();
  switch (op) {
    case 'drop':
      return '';
    case 'hash': {
      const h = createHmac('sha256', o.salt ?? PROCESS_SALT)
        .update(value)
        .digest('hex')
        .slice(0, 16);
      return `[HASH:${type}:${h}]`;
    }
    case 'mask': {
      const keep =
        span.detector === 'pii' ? Math.min(o.keepLast ?? 4, Math.floor(value.length / 3)) : 0;
      return '*'.repeat(value.length - keep) + value.slice(value.length - keep);
    }
    default:
      return `[REDACTED:${type}]`;
  }
}

/** The text with every finding's span redacted. */
export function redactText(
  text: string,
  findings: Finding[] | Span[],
  o: RedactOptions = {},
): string {
  let out = '';
  let at = 0;
  for (const s of mergeSpans(findings)) {
    out += text.slice(at, s.start) + replacement(text.slice(s.start, s.end), s, o);
    at = s.end;
  }
  return out + text.slice(at);
}
