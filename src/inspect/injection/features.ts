// The injection classifier's features: hashed word unigrams, word bigrams and character 3-5-grams
// of each word (which carry other languages, inflections and obfuscated spellings), computed per
// token so that the score of any window of tokens is a difference of prefix sums. Shared by the
// detector and the training script (scripts/injection/train.mjs), so both see the same features.

/** Hash space: 2^BITS weights. */
export const BITS = 18;
const MASK = (1 << BITS) - 1;
/** Longest run of letters hashed as one word; longer runs (CJK text, base64) are split. */
const MAX_WORD = 16;

const FNV = 0x811c9dc5;
const PRIME = 16777619;

const isWordChar = (c: number) =>
  (c >= 97 && c <= 122) ||
  (c >= 48 && c <= 57) ||
  (c >= 0xc0 &&
    c !== 0xd7 &&
    c !== 0xf7 &&
    !(c >= 0x2000 && c <= 0x2bff) &&
    !(c >= 0x3000 && c <= 0x303f) &&
    !(c >= 0xfe00 && c <= 0xfe6f) &&
    !(c >= 0xff00 && c <= 0xff0f));

/**
 * The features of a text, token by token: `offsets[t]..offsets[t+1]` index the hashes of token t
 * in `hashes`; `starts[t]`/`ends[t]` are its span in the text. Punctuation that matters in
 * attacks (":", "!", "<", "[", "#", "|") is a token of its own.
 */
export interface Features {
  hashes: Int32Array;
  offsets: Int32Array;
  starts: Int32Array;
  ends: Int32Array;
  tokens: number;
}

const PUNCT = new Set([33, 35, 58, 60, 62, 91, 93, 124, 123, 125, 34, 96]);

export function features(text: string): Features {
  const lower = text.toLowerCase();
  const n = lower.length;
  // Upper bound: 3 n-grams per character, plus a unigram and a bigram per token.
  let hashes = new Int32Array(Math.max(64, n * 3 + 16));
  const offsets: number[] = [0];
  const starts: number[] = [];
  const ends: number[] = [];
  let h = 0;
  let prev = 0x9e3779b9 | 0;
  const push = (v: number) => {
    if (h >= hashes.length) {
      const bigger = new Int32Array(hashes.length * 2);
      bigger.set(hashes);
      hashes = bigger;
    }
    hashes[h++] = v & MASK;
  };
  const codes: number[] = [];
  const endToken = (start: number, end: number) => {
    // Word unigram.
    let u = FNV;
    for (const c of codes) u = Math.imul(u ^ c, PRIME);
    push(u);
    // Bigram with the previous token.
    push(Math.imul(u ^ Math.imul(prev, 0x27d4eb2d), PRIME) ^ 0x5bd1e995);
    prev = u;
    // Character 3..5-grams of the word with boundary marks.
    if (codes.length > 1) {
      const m = codes.length + 2;
      const at = (i: number) => (i === 0 ? 2 : i === m - 1 ? 3 : codes[i - 1]!);
      for (let i = 0; i + 3 <= m; i++) {
        let g = (FNV ^ 0x1234567) | 0;
        for (let j = i; j < i + 5 && j < m; j++) {
          g = Math.imul(g ^ at(j), PRIME);
          if (j - i >= 2) push(g + (j - i));
        }
      }
    }
    offsets.push(h);
    starts.push(start);
    ends.push(end);
    codes.length = 0;
  };
  let start = -1;
  for (let i = 0; i < n; i++) {
    const c = lower.charCodeAt(i);
    if (isWordChar(c)) {
      if (start < 0) start = i;
      codes.push(c);
      if (codes.length === MAX_WORD) {
        endToken(start, i + 1);
        start = -1;
      }
    } else {
      if (start >= 0) {
        endToken(start, i);
        start = -1;
      }
      if (PUNCT.has(c)) {
        codes.push(c);
        endToken(i, i + 1);
      }
    }
  }
  if (start >= 0) endToken(start, n);
  return {
    hashes: hashes.subarray(0, h),
    offsets: Int32Array.from(offsets),
    starts: Int32Array.from(starts),
    ends: Int32Array.from(ends),
    tokens: starts.length,
  };
}

/** Tokens per window, and the step between windows: the text's score is its best window's. */
export const WINDOW = 32;
export const STRIDE = 8;

/**
 * The windows of a text as [first token, end token): one for a short text, else every STRIDE
 * tokens (the last one ending at the text's end).
 */
export function windows(tokens: number): [number, number][] {
  if (tokens <= WINDOW) return [[0, tokens]];
  const out: [number, number][] = [];
  for (let s = 0; s + WINDOW <= tokens; s += STRIDE) out.push([s, s + WINDOW]);
  if (out[out.length - 1]![1] < tokens) out.push([tokens - WINDOW, tokens]);
  return out;
}

/**
 * The raw score (logit) of every window, with weights `w` and `bias`: the sum of the features'
 * weights over the square root of their count (a length-normalised linear model).
 */
export function windowScores(
  f: Features,
  w: ArrayLike<number>,
  bias: number,
  scale = 1,
): { scores: Float64Array; spans: [number, number][] } {
  const prefix = new Float64Array(f.tokens + 1);
  for (let t = 0; t < f.tokens; t++) {
    let s = 0;
    for (let k = f.offsets[t]!; k < f.offsets[t + 1]!; k++) s += w[f.hashes[k]!]!;
    prefix[t + 1] = prefix[t]! + s * scale;
  }
  const spans = windows(f.tokens);
  const scores = new Float64Array(spans.length);
  spans.forEach(([a, b], i) => {
    const count = f.offsets[b]! - f.offsets[a]!;
    scores[i] = count === 0 ? bias : bias + (prefix[b]! - prefix[a]!) / Math.sqrt(count);
  });
  return { scores, spans };
}
