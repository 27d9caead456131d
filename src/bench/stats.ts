// Percentiles for the benches, one definition for all: the q-quantile of n samples is the
// sorted samples' element at rank floor(n·q), capped at the last (no interpolation). The median
// is the same with q = 0.5: the upper one of the middle two for an even n.

function sorted(xs: readonly number[]): number[] {
  if (xs.length === 0) throw new Error('a percentile of no samples');
  return [...xs].sort((a, b) => a - b);
}

const at = (s: number[], q: number) => s[Math.min(s.length - 1, Math.floor(s.length * q))]!;

/** The q-quantile of `xs` (0 ≤ q ≤ 1); `xs` is left as it is. */
export function percentile(xs: readonly number[], q: number): number {
  return at(sorted(xs), q);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}

/** p50 and p99 of `xs`, sorting once. */
export function percentiles(xs: readonly number[]): { p50: number; p99: number } {
  const s = sorted(xs);
  return { p50: at(s, 0.5), p99: at(s, 0.99) };
}
