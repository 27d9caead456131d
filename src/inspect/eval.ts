// npm run eval: how well the detectors do, in two parts.
//
// 1. The labelled corpus (fixtures/corpus.ts), per detector. For secrets and PII a hit is a
//    (text, finding type) pair: an expected type found is a true positive, a type found but not
//    expected a false positive, an expected type missed a false negative. For injection a hit is
//    a text: the classifier names no technique, so a text that should be flagged and is (by any
//    injection finding) is a true positive.
// 2. Phone numbers the detectors were not written from: libphonenumber's example mobile number
//    of every region, in international and E.164 form, in a sentence.
// 3. The injection classifier across sources: recorded when it was trained
//    (scripts/injection/train.mjs), each source scored by a model that never saw it, at the
//    threshold where 1% of held-out benign texts are flagged; the heuristics on the same texts.

import { getCountries, getExampleNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { CORPUS, type Sample } from './fixtures/corpus.js';
import shipped from './injection/classifier.json' with { type: 'json' };
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
      const ofDetector = findings.filter((f) => f.detector === score.detector);
      const expected = new Set(sample.expect[score.detector] ?? []);
      if (score.detector === 'injection') {
        const flagged = ofDetector.length > 0;
        if (flagged && expected.size > 0) score.tp++;
        else if (flagged) {
          score.fp++;
          const types = [...new Set(ofDetector.map((f) => f.type))].sort().join(', ');
          score.misses.push(`false positive (${types}): ${sample.note}`);
        } else if (expected.size > 0) {
          score.fn++;
          score.misses.push(`missed: ${sample.note}`);
        }
        continue;
      }
      const found = new Set(ofDetector.map((f) => f.type));
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

/** Phone recall on libphonenumber's example mobile numbers: [found, total, misses]. */
export async function phoneExamples(
  inspector = new Inspector(),
): Promise<{ found: number; total: number; misses: string[] }> {
  let found = 0;
  let total = 0;
  const misses: string[] = [];
  for (const region of getCountries()) {
    const example = getExampleNumber(region, examples);
    if (!example) continue;
    for (const form of ['INTERNATIONAL', 'E.164'] as const) {
      const number = example.format(form);
      const text = `Please call me on ${number} tomorrow.`;
      const at = text.indexOf(number);
      total++;
      const { findings } = await inspector.inspect(text);
      if (
        findings.some((f) => f.type === 'phone' && f.start === at && f.end === at + number.length)
      )
        found++;
      else misses.push(`${region} ${number}`);
    }
  }
  return { found, total, misses };
}

interface HeldOutRow {
  source: string;
  positives: number;
  negatives: number;
  recall: number | null;
  falseAlarms: number | null;
  heuristicsRecall: number | null;
  heuristicsFalseAlarms: number | null;
  combinedRecall: number | null;
  combinedFalseAlarms: number | null;
}

const pct = (x: number | null) => (x === null ? '' : `${(x * 100).toFixed(1)}%`);

/** The classifier's held-out table, as recorded in the shipped model. */
export function heldOutTable(): string[] {
  const h = (
    shipped as unknown as { heldOut: { recall: number; macroRecall: number; table: HeldOutRow[] } }
  ).heldOut;
  const lines = [
    `injection classifier, each source held out (scored by a model trained on the others), threshold at 1% false alarms over all held-out benign texts:`,
    `recall over all held-out injections ${pct(h.recall)}, mean over sources ${pct(h.macroRecall)}`,
    '',
    '| held-out source | injections | benign | classifier recall | classifier false alarms | heuristics recall | heuristics false alarms | both: recall | both: false alarms |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of h.table)
    lines.push(
      `| ${r.source} | ${r.positives} | ${r.negatives} | ${pct(r.recall)} | ${pct(r.falseAlarms)} | ${pct(r.heuristicsRecall)} | ${pct(r.heuristicsFalseAlarms)} | ${pct(r.combinedRecall)} | ${pct(r.combinedFalseAlarms)} |`,
    );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const scores = await evaluateCorpus();
  console.log(`corpus: ${CORPUS.length} texts\n`);
  console.log('| detector  | TP | FP | FN | precision | recall |');
  console.log('|-----------|----|----|----|-----------|--------|');
  for (const s of scores)
    console.log(
      `| ${s.detector.padEnd(9)} | ${String(s.tp).padStart(2)} | ${String(s.fp).padStart(2)} | ${String(s.fn).padStart(2)} | ${pct(s.precision).padStart(9)} | ${pct(s.recall).padStart(6)} |`,
    );
  const misses = scores.flatMap((s) => s.misses.map((m) => `${s.detector}: ${m}`));
  if (misses.length) console.log(`\n${misses.join('\n')}`);
  const phones = await phoneExamples();
  console.log(
    `\nphone numbers, libphonenumber's example mobile number of each region (international and E.164): ${phones.found}/${phones.total} found (${pct(phones.found / phones.total)})${phones.misses.length ? `; missed: ${phones.misses.join(', ')}` : ''}`,
  );
  console.log(`\n${heldOutTable().join('\n')}`);
}
