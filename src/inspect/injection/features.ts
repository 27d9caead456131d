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

const PUNCT = new Uint8Array(128);
for (const c of '!#:<>[]|{}"`') PUNCT[c.charCodeAt(0)] = 1;

// Scratch space reused across calls (one text at a time; results are copied out).
let hashBuf = new Int32Array(1 << 14);
let tokBuf = new Int32Array(1 << 12);
let startBuf = new Int32Array(1 << 12);
let endBuf = new Int32Array(1 << 12);
const word = new Int32Array(MAX_WORD + 2);

export function features(text: string): Features {
  const lower = text.toLowerCase();
  const n = lower.length;
  // Bounds: 3 n-grams per character plus a unigram and a bigram per token; a token per char.
  if (hashBuf.length < n * 3 + 2 * n + 16) hashBuf = new Int32Array(n * 5 + 16);
  if (tokBuf.length < n + 2) {
    tokBuf = new Int32Array(n + 2);
    startBuf = new Int32Array(n + 2);
    endBuf = new Int32Array(n + 2);
  }
  const hashes = hashBuf;
  let h = 0;
  let tokens = 0;
  tokBuf[0] = 0;
  let prev = 0x9e3779b9 | 0;
  let len = 0;
  let start = -1;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? lower.charCodeAt(i) : 32;
    const inWord = i < n && isWordChar(c);
    if (inWord) {
      if (start < 0) start = i;
      word[1 + len++] = c;
    }
    // A token ends at a non-word character, at the text's end, or at MAX_WORD characters; a
    // punctuation mark that matters is a token of its own.
    const punct = !inWord && c < 128 && PUNCT[c] === 1;
    for (let pass = 0; pass < 2; pass++) {
      let tokStart: number;
      let tokEnd: number;
      if (pass === 0) {
        if (len === 0 || (inWord && len < MAX_WORD)) continue;
        tokStart = start;
        tokEnd = inWord ? i + 1 : i;
      } else {
        if (!punct) continue;
        word[1] = c;
        len = 1;
        tokStart = i;
        tokEnd = i + 1;
      }
      // Word unigram.
      let u = FNV;
      for (let k = 1; k <= len; k++) u = Math.imul(u ^ word[k]!, PRIME);
      hashes[h++] = u & MASK;
      // Bigram with the previous token.
      hashes[h++] = (Math.imul(u ^ Math.imul(prev, 0x27d4eb2d), PRIME) ^ 0x5bd1e995) & MASK;
      prev = u;
      // Character 3..5-grams of the word with boundary marks (2 before, 3 after).
      if (len > 1) {
        word[0] = 2;
        word[len + 1] = 3;
        const m = len + 2;
        for (let a = 0; a + 3 <= m; a++) {
          let g = (FNV ^ 0x1234567) | 0;
          const stop = a + 5 < m ? a + 5 : m;
          for (let j = a; j < stop; j++) {
            g = Math.imul(g ^ word[j]!, PRIME);
            if (j - a >= 2) hashes[h++] = (g + (j - a)) & MASK;
          }
        }
      }
      startBuf[tokens] = tokStart;
      endBuf[tokens] = tokEnd;
      tokens++;
      tokBuf[tokens] = h;
      len = 0;
      start = -1;
    }
  }
  return {
    hashes: hashes.slice(0, h),
    offsets: tokBuf.slice(0, tokens + 1),
    starts: startBuf.slice(0, tokens),
    ends: endBuf.slice(0, tokens),
    tokens,
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
