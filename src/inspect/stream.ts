// Streaming redaction: text arrives in chunks (a model's output, a long tool result) and leaves
// redacted, without waiting for the end. A value split across chunks is still caught: each
// push emits only the text no future chunk can turn into part of a match, and holds back the
// shortest tail that still could — the trailing token, extended over the tokens a match can
// span (digit groups of a card or phone number, "key = " assignments), or an unfinished
// "-----BEGIN … PRIVATE KEY-----" block. A hold larger than `maxHold` is released redacted
// whole when it is an open key block (fail closed), as is at the end of the stream.

import { redactText, type RedactOptions } from './redact.js';
import type { Finding } from './types.js';

export interface SyncDetector {
  detect(text: string): Finding[];
}

export interface StreamOptions extends RedactOptions {
  /** Longest tail held back, in characters (default 16 KiB). */
  maxHold?: number;
}

/** Released characters kept as context for detection (PII context words look back 48). */
const CONTEXT = 64;
const DIGITISH = /^[+(]?[0-9][0-9().-]*$/;
/** A group of an IBAN written in fours ("DE89 3704 …"). */
const GROUP = /^(?=.*[0-9])[A-Z0-9]{2,4}$/;
const OPENS_VALUE = /[:=>,]$/;

/** Where the tail that could still grow into a match starts. */
export function holdPoint(text: string): number {
  // The trailing run of non-whitespace (with any whitespace after it).
  let h = text.length;
  while (h > 0 && /\s/.test(text[h - 1]!)) h--;
  const endsInSpace = h < text.length;
  while (h > 0 && !/\s/.test(text[h - 1]!)) h--;
  let first = text.slice(h).trim();
  // A finished word followed by space cannot grow, unless it can join what follows.
  if (endsInSpace && !(OPENS_VALUE.test(first) || DIGITISH.test(first) || GROUP.test(first)))
    return keyHold(text, text.length);
  // Extend over earlier tokens a match can span.
  for (let steps = 0; steps < 8 && h > 0; steps++) {
    let s = h;
    while (s > 0 && /[ \t]/.test(text[s - 1]!)) s--;
    let t = s;
    while (t > 0 && !/\s/.test(text[t - 1]!)) t--;
    const prev = text.slice(t, s);
    if (!prev) break;
    const joins =
      OPENS_VALUE.test(prev) ||
      /^[:=>]/.test(first) ||
      (DIGITISH.test(prev) && DIGITISH.test(first)) ||
      (/^[A-Z]{2}[0-9]{2}$/.test(prev) && /^[A-Z0-9]{1,4}$/.test(first)) ||
      (/^[A-Z0-9]{4}$/.test(prev) && /^[A-Z0-9]{1,4}$/.test(first) && /[0-9]/.test(prev));
    if (!joins) break;
    h = t;
    first = prev;
  }
  return keyHold(text, h);
}

/** An open private key block is held from its BEGIN line. */
function keyHold(text: string, h: number): number {
  const begin = openKeyBlock(text);
  return begin >= 0 && begin < h ? begin : h;
}

const END_LINE = /^-----END[ A-Z0-9_-]{0,100}KEY(?: BLOCK)?-----/;

/** Where a private key block starts that has no complete END line yet, or -1. */
export function openKeyBlock(text: string): number {
  const begin = text.lastIndexOf('-----BEGIN');
  if (begin < 0) return -1;
  return keyBlockEnd(text, begin) < 0 ? begin : -1;
}

/** The index just after the first complete END line at or after `from`, or -1. */
function keyBlockEnd(text: string, from = 0): number {
  for (let at = text.indexOf('-----END', from); at >= 0; at = text.indexOf('-----END', at + 1)) {
    const m = END_LINE.exec(text.slice(at, at + 140));
    if (m) return at + m[0].length;
  }
  return -1;
}

export class StreamRedactor {
  private held = '';
  /** Already released text the detectors still see: context words such as "SSN:" before a value. */
  private context = '';
  /** Inside a key block released redacted: everything up to its END line is dropped. */
  private inKeyBlock = false;
  private readonly maxHold: number;

  constructor(
    private readonly detectors: SyncDetector[],
    private readonly opts: StreamOptions = {},
  ) {
    this.maxHold = opts.maxHold ?? 16 * 1024;
  }

  /** Findings in `text`, seen after the released context; offsets are into `text`. */
  private findings(text: string): Finding[] {
    const n = this.context.length;
    return this.detectors
      .flatMap((d) => d.detect(this.context + text))
      .filter((f) => f.end > n)
      .map((f) => ({ ...f, start: Math.max(0, f.start - n), end: f.end - n }));
  }

  /** Releases text[0, upto) redacted (an open key block after `upto` is dropped whole). */
  private release(text: string, upto: number, found: Finding[]): string {
    const out = redactText(
      text.slice(0, upto),
      found.filter((f) => f.end <= upto),
      this.opts,
    );
    this.context = (this.context + text.slice(0, upto)).slice(-CONTEXT);
    return out;
  }

  /** The redacted text that can be released now. */
  push(chunk: string): string {
    let text = this.held + chunk;
    if (this.inKeyBlock) {
      const end = keyBlockEnd(text);
      if (end < 0) {
        // Keep only what could be the start of the END line.
        this.held = text.slice(-140);
        return '';
      }
      this.inKeyBlock = false;
      text = text.slice(end);
    }
    const found = this.findings(text);
    let h = holdPoint(text);
    // A match that reaches into the held tail may still grow: hold it whole.
    for (const f of found) if (f.start < h && f.end > h) h = f.start;
    if (text.length - h > this.maxHold) {
      const open = openKeyBlock(text);
      if (open >= 0 && open <= h) {
        // Fail closed: a key block too long to hold is released as one redaction.
        this.held = '';
        this.inKeyBlock = true;
        return `${this.release(text, open, found)}[REDACTED:PRIVATE-KEY]`;
      }
      h = text.length - this.maxHold;
      for (const f of found) if (f.start < h && f.end > h) h = f.start;
    }
    this.held = text.slice(h);
    return this.release(text, h, found);
  }

  /** The rest, redacted, at the end of the stream. */
  end(): string {
    const text = this.held;
    this.held = '';
    if (this.inKeyBlock) {
      this.inKeyBlock = false;
      return '';
    }
    const found = this.findings(text);
    this.context = '';
    const open = openKeyBlock(text);
    if (open >= 0) return `${this.release(text, open, found)}[REDACTED:PRIVATE-KEY]`;
    return this.release(text, text.length, found);
  }
}
