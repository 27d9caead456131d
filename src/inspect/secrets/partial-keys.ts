// Private keys that arrive without their "-----BEGIN … PRIVATE KEY-----" line: a file read
// from an offset, a truncated tool result, a key pasted without its armour. gitleaks' rule
// needs the BEGIN line, so these are found from what remains:
//   1. an END … PRIVATE KEY line with key material before it and no BEGIN line;
//   2. base64 whose first bytes are the DER structure of a private key: SEQUENCE, then
//      INTEGER version 0 or 1, then what follows the version in PKCS#1 (INTEGER modulus),
//      PKCS#8 (SEQUENCE algorithm) or SEC1 (OCTET STRING key). Certificates, public keys and
//      CSRs start SEQUENCE, SEQUENCE instead, so they are not reported;
//   3. the body of an OpenSSH key ("openssh-key-v1" in base64).
// The span covers the key material found (and the END line), so redaction removes all of it.

import type { Finding } from '../types.js';

const isB64 = (c: number) =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
const isB64OrPad = (c: number) => isB64(c) || c === 61;
const isLineSpace = (c: number) => c === 10 || c === 13 || c === 32 || c === 9;

/** The base64 block (lines of base64, with its line breaks) that ends at `end`. */
function blockBefore(text: string, end: number): number {
  let s = end;
  while (s > 0 && (isB64OrPad(text.charCodeAt(s - 1)) || isLineSpace(text.charCodeAt(s - 1)))) s--;
  while (s < end && !isB64(text.charCodeAt(s))) s++;
  return s;
}

/** The base64 block that starts at `start`, up to a blank line, a non-base64 character or an END line. */
function blockAfter(text: string, start: number): number {
  let e = start;
  while (e < text.length) {
    const c = text.charCodeAt(e);
    if (isB64OrPad(c)) e++;
    else if (c === 10 || c === 13) {
      // Continue over a single line break when the next line is base64 too.
      let n = e + 1;
      if (c === 13 && text.charCodeAt(n) === 10) n++;
      if (n < text.length && isB64(text.charCodeAt(n))) e = n;
      else break;
    } else break;
  }
  return e;
}

function base64Bytes(s: string): Uint8Array {
  return Buffer.from(s.slice(0, s.length - (s.length % 4)), 'base64');
}

/** DER length octets at i: [length, next index], or undefined. */
function derLength(b: Uint8Array, i: number): [number, number] | undefined {
  const first = b[i];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, i + 1];
  const n = first & 0x7f;
  if (n < 1 || n > 3 || i + n >= b.length) return undefined;
  let len = 0;
  for (let k = 1; k <= n; k++) len = (len << 8) | b[i + k]!;
  return [len, i + 1 + n];
}

/** Whether the bytes start like a DER-encoded private key (PKCS#1, PKCS#8 or SEC1). */
export function looksLikePrivateKeyDer(b: Uint8Array): boolean {
  if (b[0] !== 0x30) return false;
  const outer = derLength(b, 1);
  if (!outer || outer[0] < 32) return false;
  let i = outer[1];
  // INTEGER version: 0 (PKCS#1, PKCS#8) or 1 (SEC1, PKCS#8 v2).
  if (b[i] !== 0x02 || b[i + 1] !== 0x01 || (b[i + 2] !== 0x00 && b[i + 2] !== 0x01)) return false;
  i += 3;
  const next = b[i];
  // PKCS#1 (and DSA): INTEGER; PKCS#8: SEQUENCE (algorithm); SEC1: OCTET STRING (key).
  return next === 0x02 || next === 0x30 || next === 0x04;
}

const BEGIN_PRIVATE = /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/;
const END_PRIVATE = /-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/g;
const OPENSSH_MAGIC = 'b3BlbnNzaC1rZXktdjE';
/** Shortest key material reported: an EC key is ~120 base64 characters, RSA over 800. */
const MIN_BODY = 64;

export function partialPrivateKeys(text: string): Finding[] {
  const out: Finding[] = [];
  const found = (start: number, end: number) => {
    if (out.some((f) => start < f.end && f.start < end)) return;
    out.push({ detector: 'secrets', type: 'private-key', start, end, score: 0.9 });
  };
  // 1. An END line whose BEGIN line is missing.
  if (text.includes('-----END')) {
    END_PRIVATE.lastIndex = 0;
    for (let m = END_PRIVATE.exec(text); m; m = END_PRIVATE.exec(text)) {
      const bodyStart = blockBefore(text, m.index);
      const before = text.slice(Math.max(0, bodyStart - 160), bodyStart);
      if (BEGIN_PRIVATE.test(before)) continue; // whole: gitleaks' rule reports it
      const body = text.slice(bodyStart, m.index).replace(/\s/g, '');
      if (body.length >= MIN_BODY) found(bodyStart, m.index + m[0].length);
    }
  }
  // 2. DER private key material: base64 starting "M" at the start of a token.
  for (let i = text.indexOf('M'); i >= 0; i = text.indexOf('M', i + 1)) {
    if (i > 0 && isB64OrPad(text.charCodeAt(i - 1))) continue;
    const head = text.slice(i, i + 16);
    if (head.length < 16 || ![...head].every((c) => isB64(c.charCodeAt(0)))) continue;
    if (!looksLikePrivateKeyDer(base64Bytes(head))) continue;
    const end = blockAfter(text, i);
    if (text.slice(i, end).replace(/\s/g, '').length >= MIN_BODY) found(i, end);
    i = end;
  }
  // 3. OpenSSH private key bodies.
  for (let i = text.indexOf(OPENSSH_MAGIC); i >= 0; i = text.indexOf(OPENSSH_MAGIC, i + 1)) {
    const end = blockAfter(text, i);
    if (end - i >= MIN_BODY) found(i, end);
    i = end;
  }
  return out;
}
