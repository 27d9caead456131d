// Secrets: gitleaks' rule catalogue with its keyword pre-filter, entropy thresholds and
// allowlists (documentation keys such as AKIA…EXAMPLE are allowlisted by the rules themselves).

import { shannonEntropy } from '../entropy.js';
import type { Detector, Finding } from '../types.js';
import { gitleaksCatalogue, type Catalogue, type CompiledAllowlist } from './catalogue.js';

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

export class SecretsDetector implements Detector {
  readonly name = 'secrets' as const;

  constructor(private readonly catalogue: Catalogue = gitleaksCatalogue()) {}

  detect(text: string): Finding[] {
    const out: Finding[] = [];
    const lower = text.toLowerCase();
    for (const rule of this.catalogue.candidates(lower)) {
      const { data } = rule;
      for (const m of rule.regex.matches(text)) {
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
        out.push({
          detector: 'secrets',
          type: data.id,
          start,
          end,
          score: data.id.startsWith('generic') ? 0.7 : 0.95,
        });
      }
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
