// npm run eval: precision and recall per detector on the labelled corpus (fixtures/corpus.ts).
// A hit is a (sample, finding type) pair: an expected type found is a true positive, a type
// found but not expected a false positive, an expected type missed a false negative.

import { CORPUS, type Sample } from './fixtures/corpus.js';
import { Inspector } from './inspector.js';
import type { DetectorName } from './types.js';

export interface Score {
  detector: DetectorName;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  misses: string[];
}

export async function evaluateCorpus(
  corpus: Sample[] = CORPUS,
  inspector = new Inspector(),
): Promise<Score[]> {
  const detectors: DetectorName[] = ['secrets', 'pii', 'injection'];
  const scores = detectors.map((detector) => ({
    detector,
    tp: 0,
    fp: 0,
    fn: 0,
    precision: 1,
    recall: 1,
    misses: [] as string[],
  }));
  for (const sample of corpus) {
    const { findings } = await inspector.inspect(sample.text);
    for (const score of scores) {
      const found = new Set(
        findings.filter((f) => f.detector === score.detector).map((f) => f.type),
      );
      const expected = new Set(sample.expect[score.detector] ?? []);
      for (const t of found) {
        if (expected.has(t)) score.tp++;
        else {
          score.fp++;
          score.misses.push(`false positive ${t}: ${sample.note}`);
        }
      }
      for (const t of expected) {
        if (!found.has(t)) {
          score.fn++;
          score.misses.push(`missed ${t}: ${sample.note}`);
        }
      }
    }
  }
  for (const s of scores) {
    s.precision = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
    s.recall = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
  }
  return scores;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const scores = await evaluateCorpus();
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(`corpus: ${CORPUS.length} texts\n`);
  console.log('| detector  | TP | FP | FN | precision | recall |');
  console.log('|-----------|----|----|----|-----------|--------|');
  for (const s of scores)
    console.log(
      `| ${s.detector.padEnd(9)} | ${String(s.tp).padStart(2)} | ${String(s.fp).padStart(2)} | ${String(s.fn).padStart(2)} | ${pct(s.precision).padStart(9)} | ${pct(s.recall).padStart(6)} |`,
    );
  const misses = scores.flatMap((s) => s.misses.map((m) => `${s.detector}: ${m}`));
  if (misses.length) console.log(`\n${misses.join('\n')}`);
}
