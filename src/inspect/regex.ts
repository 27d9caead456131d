// Linear-time regular expressions (RE2 semantics through re2js, pure JavaScript): the text
// inspected is attacker-controlled, so no pattern may backtrack. Offsets are UTF-16 indices.

import { RE2JS } from 're2js';

export interface Match {
  start: number;
  end: number;
  /** [start, end] of capture group i, or undefined when it did not take part. */
  group(i: number): [number, number] | undefined;
}

/** The pattern without its word-boundary assertions: it matches a superset of the original. */
export function withoutWordBoundaries(source: string): string {
  return source.replace(/(?<!\\)((?:\\\\)*)\\b/g, '$1');
}

/**
 * Whether a pattern can match a whitespace character (conservatively: any construct that
 * might, such as ".", a negated class, \s, \W or a literal space, counts).
 */
export function mayMatchWhitespace(source: string): boolean {
  if (/\\[sWDpPtnrfv]|\\x(?:20|09|0[aAdD])|\[\^| /.test(source)) return true;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '.') return true;
  }
  return false;
}

export class LinearRegex {
  private readonly re: RE2JS;
  /** A quick "could it match?": the pattern without \b, which keeps re2js on its DFA. */
  private readonly gate: RE2JS;
  readonly groups: number;

  constructor(
    readonly source: string,
    caseInsensitive = false,
  ) {
    const flags = caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0;
    this.re = RE2JS.compile(source, flags);
    const loose = withoutWordBoundaries(source);
    this.gate = loose === source ? this.re : RE2JS.compile(loose, flags);
    this.groups = this.re.groupCount();
  }

  test(text: string): boolean {
    return this.gate.test(text) && this.re.test(text);
  }

  /** The quick test alone: false means no match; true means there may be one. */
  mayMatch(text: string): boolean {
    return this.gate.test(text);
  }

  /** Every match, without the quick test first (the caller asked it already). */
  *matchesUngated(text: string): Generator<Match> {
    yield* this.find(text);
  }

  /** Every leftmost non-overlapping match. */
  *matches(text: string): Generator<Match> {
    // The DFA answers "any match?" far faster than the matcher finds spans: ask it first.
    if (!this.gate.test(text)) return;
    yield* this.find(text);
  }

  private *find(text: string): Generator<Match> {
    const m = this.re.matcher(text);
    while (m.find()) {
      const start = m.start();
      const end = m.end();
      const spans: ([number, number] | undefined)[] = [];
      for (let i = 1; i <= this.groups; i++) {
        const s = m.start(i);
        spans.push(s < 0 ? undefined : [s, m.end(i)]);
      }
      yield { start, end, group: (i) => (i === 0 ? [start, end] : spans[i - 1]) };
    }
  }
}

/**
 * The first unbounded quantifier (*, +, {n,}) in a regular expression source, outside
 * character classes and escapes; undefined when every quantifier has an upper bound.
 */
export function unboundedQuantifier(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '*' || c === '+') return `${c} at ${i}`;
    else if (c === '{') {
      const m = /^\{(\d+),\}/.exec(source.slice(i));
      if (m) return `${m[0]} at ${i}`;
    }
  }
  return undefined;
}

/**
 * A V8 regular expression whose quantifiers are all bounded: the work from any start position
 * is bounded by a constant of the pattern, so a scan is linear in the text however it is
 * crafted. For Cordon's own patterns (PII, injection), where V8 is 10–50× faster than RE2 in
 * JavaScript; third-party patterns (the gitleaks catalogue) go through LinearRegex.
 */
export class BoundedRegex {
  private readonly re: RegExp;

  constructor(
    readonly source: string,
    caseInsensitive = false,
  ) {
    const unbounded = unboundedQuantifier(source);
    if (unbounded) throw new Error(`unbounded quantifier ${unbounded} in /${source}/`);
    this.re = new RegExp(source, caseInsensitive ? 'gi' : 'g');
  }

  test(text: string): boolean {
    this.re.lastIndex = 0;
    return this.re.test(text);
  }

  /** Every match (spans of the whole match; groups are not reported). */
  matches(text: string): Match[] {
    const re = this.re;
    const out: Match[] = [];
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) re.lastIndex++;
      out.push({ start, end, group: (i) => (i === 0 ? [start, end] : undefined) });
    }
    return out;
  }
}
