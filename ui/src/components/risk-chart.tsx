// Risk over time as a small SVG bar chart (no chart library: it would cost more than the whole
// console). Each bar is one time slice: its height the highest score, a mark at the mean; the
// same numbers are in a table for screen readers and keyboard users.
import type { RiskBucket } from '../lib/api.js';
import { Head } from './bits.js';

const W = 560;
const H = 140;
const PAD = 24;

const colour = (score: number) =>
  score >= 75 ? '#a3001b' : score >= 50 ? '#b34700' : score >= 25 ? '#7a6200' : '#1d6b3a';

export function RiskChart({ buckets }: { buckets: RiskBucket[] }) {
  if (buckets.length === 0) return <p>No decisions in this window.</p>;
  const bw = (W - PAD) / buckets.length;
  const y = (s: number) => H - PAD - ((H - 2 * PAD) * Math.min(100, Math.max(0, s))) / 100;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="risk-title risk-desc">
        <title id="risk-title">Risk over time</title>
        <desc id="risk-desc">
          Highest and mean risk score per slice, from {new Date(buckets[0]!.start).toLocaleString()}
          ; the table below has the numbers.
        </desc>
        {[0, 50, 100].map((s) => (
          <g key={s}>
            <line x1={PAD} x2={W} y1={y(s)} y2={y(s)} class="grid" />
            <text x={0} y={y(s) + 4} class="axis">
              {s}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => (
          <g key={b.start}>
            {b.count > 0 && (
              <>
                <rect
                  x={PAD + i * bw + 1}
                  width={Math.max(1, bw - 2)}
                  y={y(b.maxScore)}
                  height={y(0) - y(b.maxScore) || 1}
                  fill={colour(b.maxScore)}
                />
                <line
                  x1={PAD + i * bw + 1}
                  x2={PAD + (i + 1) * bw - 1}
                  y1={y(b.meanScore)}
                  y2={y(b.meanScore)}
                  class="mean"
                />
              </>
            )}
          </g>
        ))}
      </svg>
      <details>
        <summary>Risk per slice as a table</summary>
        <table>
          <Head cols={['from', 'decisions', 'denied', 'max', 'mean']} />
          <tbody>
            {buckets.map((b) => (
              <tr key={b.start}>
                <td>{new Date(b.start).toLocaleString()}</td>
                <td>{b.count}</td>
                <td>{b.deny}</td>
                <td>{b.maxScore}</td>
                <td>{Math.round(b.meanScore)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
