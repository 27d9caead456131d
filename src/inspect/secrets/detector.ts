// Secrets: gitleaks' rule catalogue with its keyword pre-filter, entropy thresholds and
// allowlists (documentation keys such as AKIA…EXAMPLE are allowlisted by the rules themselves),
// then what the catalogue cannot see: bare provider tokens, passwords in URLs and private keys
// without their BEGIN line. Placeholders ("your_api_key_here", "xxxxxxxx") are not secrets.

import { shannonEntropy } from '../entropy.js';
import type { Detector, Finding } from '../types.js';
import { bareTokens } from './bare-tokens.js';
import { partialPrivateKeys } from './partial-keys.js';
import { isPlaceholder } from './placeholder.js';
import { urlCredentials } from './url-credentials.js';
import {
  gitleaksCatalogue,
  type Catalogue,
  type CompiledAllowlist,
  type CompiledRule,
} from './catalogue.js';

function lineAround(text: string, start: number, end: number): string {
  const a = text.lastIndexOf('\n', start - 1) + 1;
  const b = text.indexOf('\n', end);
  return text.slice(a, b < 0 ? text.length : b);
}

function allowed(
  list: CompiledAllowlist,
  secret: string,
  match: string,
  line: () => string,
): boolean {
  const target = list.target === 'match' ? match : list.target === 'line' ? line() : secret;
  const byRegex = list.regexes.length > 0 && list.regexes.some((r) => r.test(target));
  const lower = secret.toLowerCase();
  const byStopword = list.stopwords.length > 0 && list.stopwords.some((w) => lower.includes(w));
  if (list.and) {
    return (
      (list.regexes.length === 0 || byRegex) &&
      (list.stopwords.length === 0 || byStopword) &&
      (list.regexes.length > 0 || list.stopwords.length > 0)
    );
  }
  return byRegex || byStopword;
}

/** RE2's \s: ASCII space, tab, newline, form feed, carriage return (not Unicode spaces). */
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13;

/**
 * Where whitespace-delimited tokens start and end. The token last looked up is remembered, so
 * many keyword hits in one long token (queried in text order) scan it once, not once per hit.
 */
export class Tokens {
  /** The last token found: [a, b), b being the first whitespace after it. */
  private a = 0;
  private b = -1;

  constructor(private readonly text: string) {}

  private token(i: number): void {
    if (i >= this.a && i <= this.b) return;
    const t = this.text;
    let a = i;
    while (a > 0 && !isSpace(t.charCodeAt(a - 1))) a--;
    let b = i;
    while (b < t.length && !isSpace(t.charCodeAt(b))) b++;
    this.a = a;
    this.b = b;
  }

  /** The start of the token that position i is in (i itself after whitespace). */
  start(i: number): number {
    if (i < this.text.length && isSpace(this.text.charCodeAt(i)))
      return i > 0 && !isSpace(this.text.charCodeAt(i - 1)) ? (this.token(i - 1), this.a) : i;
    this.token(i);
    return this.a;
  }

  /** The first whitespace at or after i (the text's length if none). */
  end(i: number): number {
    if (i >= this.text.length) return this.text.length;
    if (isSpace(this.text.charCodeAt(i))) return i;
    this.token(i);
    return this.b;
  }
}

/** An occurrence of a keyword: [start, length], in text order. */
export type KeywordHit = [number, number];

const isWord = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isQuote = (c: number) => c === 34 || c === 39;
/** Between a keyword and its assignment operator: [ \t\w.-], word characters, [\s'"]. */
const beforeOp = (c: number) => isWord(c) || c === 46 || c === 45 || isSpace(c) || isQuote(c);
/** The first character of gitleaks' operators: = > : | , ? */
const isOperator = (c: number) =>
  c === 61 || c === 62 || c === 58 || c === 124 || c === 44 || c === 63;
/** Operator characters, quotes, backquote and space before the value. */
const afterOp = (c: number) => isOperator(c) || isQuote(c) || c === 96 || isSpace(c);

/** Appends [start, end), merged into the last window when they overlap (hits come in order). */
function addWindow(windows: [number, number][], start: number, end: number): void {
  const last = windows[windows.length - 1];
  if (last && start <= last[1]) last[1] = Math.max(last[1], end);
  else windows.push([start, end]);
}

/**
 * The windows of a semi-generic rule: around each occurrence of one of its keywords that an
 * assignment operator follows, from 64 characters before it to 2 past the value after the
 * operator (the regex's terminator). Overlapping windows are merged.
 */
export function templateWindows(
  text: string,
  hits: KeywordHit[],
  tokens: Tokens = new Tokens(text),
): [number, number][] {
  const windows: [number, number][] = [];
  for (const [p, length] of hits) {
    let i = p + length;
    const limit = Math.min(text.length, i + 48);
    while (i < limit && beforeOp(text.charCodeAt(i))) i++;
    if (i >= text.length || !isOperator(text.charCodeAt(i))) continue;
    let j = i + 1;
    for (let k = 0; k < 10 && j < text.length && afterOp(text.charCodeAt(j)); k++) j++;
    j = tokens.end(j);
    addWindow(windows, Math.max(0, p - 64), Math.min(text.length, j + 2));
  }
  return windows;
}

/**
 * The windows of a token-bound rule: the whitespace-delimited token around each occurrence of
 * one of its keywords, and the terminator character after it.
 */
export function tokenWindows(
  text: string,
  hits: KeywordHit[],
  tokens: Tokens = new Tokens(text),
): [number, number][] {
  const windows: [number, number][] = [];
  for (const [p, length] of hits) {
    const a = tokens.start(p);
    let b = p + length;
    b = tokens.end(b);
    addWindow(windows, a, Math.min(text.length, b + 2));
  }
  return windows;
}

export interface SecretsOptions {
  /** Match semi-generic rules across the whole text instead of in windows (for tests). */
  fullScan?: boolean;
}

export class SecretsDetector implements Detector {
  readonly name = 'secrets' as const;

  constructor(
    private readonly catalogue: Catalogue = gitleaksCatalogue(),
    private readonly opts: SecretsOptions = {},
  ) {}

  private *matches(
    rule: CompiledRule,
    text: string,
    lower: string,
    positions: Map<number, number[]>,
    tokens: Tokens,
  ) {
    // Offsets of the lower-cased text are the text's own unless lower-casing changed lengths.
    const windowed = !this.opts.fullScan && lower.length === text.length;
    if (!windowed || !(rule.template || rule.tokenBound)) {
      yield* rule.regex.matches(text);
      return;
    }
    const hits: KeywordHit[] = [];
    for (const id of rule.keywordIds) {
      const length = this.catalogue.keywords.keywords[id]!.length;
      for (const p of positions.get(id) ?? []) hits.push([p, length]);
    }
    hits.sort((a, b) => a[0] - b[0]);
    if (rule.template) {
      yield* this.inWindows(rule, text, templateWindows(text, hits, tokens));
      return;
    }
    // Token-bound: only when the quick test says the text may match; should the tokens around
    // the keywords hold no match after all, the whole text is searched (exact either way).
    if (!rule.regex.mayMatch(text)) return;
    let found = false;
    for (const m of this.inWindows(rule, text, tokenWindows(text, hits, tokens))) {
      found = true;
      yield m;
    }
    if (!found) yield* rule.regex.matchesUngated(text);
  }

  private *inWindows(rule: CompiledRule, text: string, windows: [number, number][]) {
    const seen = new Set<string>();
    for (const [ws, we] of windows) {
      for (const m of rule.regex.matches(text.slice(ws, we))) {
        const key = `${m.start + ws}:${m.end + ws}`;
        if (seen.has(key)) continue;
        seen.add(key);
        yield {
          start: m.start + ws,
          end: m.end + ws,
          group: (i: number) => {
            const g = m.group(i);
            return g ? ([g[0] + ws, g[1] + ws] as [number, number]) : undefined;
          },
        };
      }
    }
  }

  detect(text: string): Finding[] {
    const out: Finding[] = [];
    const lower = text.toLowerCase();
    const { rules, positions } = this.catalogue.candidates(lower);
    const tokens = new Tokens(text);
    for (const rule of rules) {
      const { data } = rule;
      for (const m of this.matches(rule, text, lower, positions, tokens)) {
        // The secret is the rule's secret group, else its first group that matched, else all.
        let span = data.secretGroup ? m.group(data.secretGroup) : undefined;
        for (let i = 1; !span && i <= rule.regex.groups; i++) {
          const g = m.group(i);
          if (g && g[1] > g[0]) span = g;
        }
        const [start, end] = span ?? [m.start, m.end];
        const secret = text.slice(start, end);
        if (!secret) continue;
        if (data.entropy) {
          if (shannonEntropy(secret) <= data.entropy) continue;
          // Generic rules: a word-like secret without a digit is most often prose.
          if (data.id.startsWith('generic') && !/[0-9]/.test(secret)) continue;
        }
        const match = text.slice(m.start, m.end);
        const line = () => lineAround(text, m.start, m.end);
        if (allowed(this.catalogue.global, secret, match, line)) continue;
        if (rule.allowlists.some((l) => allowed(l, secret, match, line))) continue;
        if (data.id !== 'private-key' && isPlaceholder(secret)) continue;
        out.push({
          detector: 'secrets',
          type: data.id,
          start,
          end,
          score: data.id.startsWith('generic') ? 0.7 : 0.95,
        });
      }
    }
    // Cordon's own shapes add what the catalogue missed, never a second finding of one span.
    for (const f of [...bareTokens(text), ...urlCredentials(text), ...partialPrivateKeys(text)]) {
      if (out.some((g) => f.start < g.end && g.start < f.end && !g.type.startsWith('generic')))
        continue;
      if (f.type !== 'private-key' && isPlaceholder(text.slice(f.start, f.end))) continue;
      out.push(f);
    }
    // A generic finding over a span a specific rule named says nothing more: drop it.
    const specific = out.filter((f) => !f.type.startsWith('generic'));
    return out
      .filter(
        (f) =>
          !f.type.startsWith('generic') ||
          !specific.some((g) => f.start < g.end && g.start < f.end),
      )
      .sort((a, b) => a.start - b.start || b.end - a.end);
  }
}
