// What the detectors read when text travels in pieces: one "view" of several texts, normalized
// so that hiding a value does not hide it from them, with a map from every character of the
// view back to the original text and offsets it came from, so redaction still applies to the
// originals. Per text: JSON escapes (\uXXXX, \n, …), URL percent-encoding and HTML character
// references are decoded (twice, for double encoding), format characters (zero-width spaces and
// joiners, soft hyphens, bidi controls, variation selectors) are removed, and each code point is
// NFKC-folded (fullwidth ｇｈｐ＿ reads as ghp_). The texts are joined by newlines, and then,
// so that a value split over two adjacent texts is seen whole, the text around every boundary
// between two texts is appended again with nothing between them.

/** One text as the detectors read it: `from[i]..to[i]` is where char i came from. */
interface Mapped {
  text: string;
  from: number[];
  to: number[];
}

export interface DetectionView {
  text: string;
  /** For each char of `text`: the index of the original text, -1 for a separator. */
  source: Int32Array;
  from: Int32Array;
  to: Int32Array;
}

/** Span in one original text. */
export interface OriginalSpan {
  text: number;
  start: number;
  end: number;
  type: string;
}

/** Characters removed before detection: Cf, the combining grapheme joiner, variation selectors. */
const INVISIBLE =
  /^(?:\p{Cf}|\u034f|\u115f|\u1160|\u3164|\uffa0|[\ufe00-\ufe0f]|[\u{e0100}-\u{e01ef}])$/u;
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  sol: '/',
  colon: ':',
  lowbar: '_',
  period: '.',
  equals: '=',
  plus: '+',
  hyphen: '-',
  dash: '-',
};
const JSON_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function identity(text: string): Mapped {
  const from = new Array<number>(text.length);
  const to = new Array<number>(text.length);
  for (let i = 0; i < text.length; i++) {
    from[i] = i;
    to[i] = i + 1;
  }
  return { text, from, to };
}

/** An escape at `i`: its decoded text and length, or undefined. */
function escapeAt(s: string, i: number): { out: string; len: number } | undefined {
  const c = s[i];
  if (c === '\\') {
    const n = s[i + 1];
    if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6)))
      return { out: String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16)), len: 6 };
    if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4)))
      return { out: String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16)), len: 4 };
    if (n !== undefined && JSON_ESCAPES[n] !== undefined) return { out: JSON_ESCAPES[n], len: 2 };
    return undefined;
  }
  if (c === '%') {
    // A run of %XX that is valid UTF-8 decodes as one unit (multi-byte characters).
    const bytes: number[] = [];
    let j = i;
    while (s[j] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(j + 1, j + 3))) {
      bytes.push(parseInt(s.slice(j + 1, j + 3), 16));
      j += 3;
    }
    if (bytes.length === 0) return undefined;
    // Only the first character's bytes: each decoded char keeps its own span.
    const first = bytes[0]!;
    const width = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 0;
    if (width === 0 || width > bytes.length) return undefined;
    try {
      return { out: UTF8.decode(new Uint8Array(bytes.slice(0, width))), len: width * 3 };
    } catch {
      return undefined;
    }
  }
  if (c === '&') {
    const m = /^&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,8}));?/.exec(s.slice(i, i + 12));
    if (!m) return undefined;
    if (m[3] !== undefined) {
      const named = NAMED[m[3].toLowerCase()];
      return named !== undefined && m[0].endsWith(';')
        ? { out: named, len: m[0].length }
        : undefined;
    }
    const cp = m[1] !== undefined ? Number(m[1]) : parseInt(m[2]!, 16);
    if (cp > 0x10ffff) return undefined;
    return { out: String.fromCodePoint(cp), len: m[0].length };
  }
  return undefined;
}

/** One pass over a mapped text; `step` says what each position becomes and how far it reaches. */
function rewrite(
  m: Mapped,
  step: (s: string, i: number) => { out: string; len: number } | undefined,
): Mapped {
  const s = m.text;
  let text = '';
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  while (i < s.length) {
    const r = step(s, i);
    const len = r?.len ?? 1;
    const out = r ? r.out : s[i]!;
    const start = m.from[i]!;
    const end = m.to[i + len - 1]!;
    for (let k = 0; k < out.length; k++) {
      from.push(start);
      to.push(end);
    }
    text += out;
    i += len;
  }
  return { text, from, to };
}

const unescapeStep = escapeAt;

function foldStep(s: string, i: number): { out: string; len: number } | undefined {
  const cp = s.codePointAt(i)!;
  const len = cp > 0xffff ? 2 : 1;
  const ch = s.slice(i, i + len);
  if (INVISIBLE.test(ch)) return { out: '', len };
  if (cp < 0x80) return undefined;
  const folded = ch.normalize('NFKC');
  return folded === ch && len === 1 ? undefined : { out: folded, len };
}

const NEEDS_UNESCAPE = /[\\%&]/;
// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** One text as the detectors should read it, mapped back to the original. */
export function normalizeForDetection(text: string): Mapped {
  let m = identity(text);
  for (let pass = 0; pass < 2 && NEEDS_UNESCAPE.test(m.text); pass++) {
    const next = rewrite(m, unescapeStep);
    if (next.text === m.text) break;
    m = next;
  }
  if (!ASCII_ONLY.test(m.text)) m = rewrite(m, foldStep);
  return m;
}

/** Chars each side of a boundary between two texts that are read again joined. */
export const BOUNDARY_WINDOW = 4096;

/**
 * The view of several texts (in the order they reach the reader). Only texts not marked
 * `joinable: false` (names and protocol words between the texts) are joined at boundaries.
 */
export function detectionView(texts: string[], joinable?: boolean[]): DetectionView {
  const parts = texts.map(normalizeForDetection);
  let text = '';
  const source: number[] = [];
  const from: number[] = [];
  const to: number[] = [];
  const sep = () => {
    text += '\n';
    source.push(-1);
    from.push(0);
    to.push(0);
  };
  const copy = (p: number, start: number, end: number) => {
    const m = parts[p]!;
    text += m.text.slice(start, end);
    for (let i = start; i < end; i++) {
      source.push(p);
      from.push(m.from[i]!);
      to.push(m.to[i]!);
    }
  };
  parts.forEach((m, p) => {
    if (p > 0) sep();
    copy(p, 0, m.text.length);
  });
  // The joins: windows around each boundary of the joinable texts laid end to end, merged.
  const seq = parts.map((_, p) => p).filter((p) => joinable?.[p] !== false);
  const starts: number[] = [];
  let total = 0;
  for (const p of seq) {
    starts.push(total);
    total += parts[p]!.text.length;
  }
  const windows: [number, number][] = [];
  for (let q = 1; q < seq.length; q++) {
    const b = starts[q]!;
    const w: [number, number] = [
      Math.max(0, b - BOUNDARY_WINDOW),
      Math.min(total, b + BOUNDARY_WINDOW),
    ];
    const last = windows[windows.length - 1];
    if (last && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else windows.push(w);
  }
  for (const [ws, we] of windows) {
    sep();
    seq.forEach((p, q) => {
      const s = starts[q]!;
      const e = s + parts[p]!.text.length;
      if (e <= ws || s >= we) return;
      copy(p, Math.max(ws, s) - s, Math.min(we, e) - s);
    });
  }
  return {
    text,
    source: Int32Array.from(source),
    from: Int32Array.from(from),
    to: Int32Array.from(to),
  };
}

/**
 * Spans of the view as spans of the original texts: what a finding covers in each text it
 * touches, from its first to its last character there (what was removed between them, such
 * as a zero-width space, goes too).
 */
export function originalSpans(
  view: DetectionView,
  spans: { start: number; end: number; type: string }[],
): OriginalSpan[] {
  const out: OriginalSpan[] = [];
  for (const s of spans) {
    const reach = new Map<number, [number, number]>();
    for (let i = Math.max(0, s.start); i < Math.min(s.end, view.text.length); i++) {
      const t = view.source[i]!;
      if (t < 0) continue;
      const r = reach.get(t);
      if (!r) reach.set(t, [view.from[i]!, view.to[i]!]);
      else {
        r[0] = Math.min(r[0], view.from[i]!);
        r[1] = Math.max(r[1], view.to[i]!);
      }
    }
    for (const [t, [start, end]] of reach) out.push({ text: t, start, end, type: s.type });
  }
  return out;
}
