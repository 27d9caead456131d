// Linear-time regular expressions (RE2 semantics through re2js, pure JavaScript): the text
// inspected is attacker-controlled, so no pattern may backtrack. Offsets are UTF-16 indices.

import { RE2JS } from 're2js';

export interface Match {
  start: number;
  end: number;
  /** [start, end] of capture group i, or undefined when it did not take part. */
  group(i: number): [number, number] | undefined;
}

export class LinearRegex {
  private readonly re: RE2JS;
  readonly groups: number;

  constructor(
    readonly source: string,
    caseInsensitive = false,
  ) {
    this.re = RE2JS.compile(source, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    this.groups = this.re.groupCount();
  }

  test(text: string): boolean {
    return this.re.matcher(text).find();
  }

  /** Every leftmost non-overlapping match. */
  *matches(text: string): Generator<Match> {
    // The DFA answers "any match?" far faster than the matcher finds spans: ask it first.
    if (!this.re.test(text)) return;
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
