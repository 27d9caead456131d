// Trains the shipped injection classifier (src/inspect/injection/classifier.json) and measures
// it across sources. Usage, after `npm run build`:
//
//   node scripts/injection/train.mjs DATA.jsonl [--out src/inspect/injection/classifier.json]
//
// DATA.jsonl comes from scripts/injection/extract.py. The model is a logistic regression over
// hashed features (src/inspect/injection/features.ts), trained by SGD with AdaGrad steps; a
// text's score is its best window's, and training does the same (multiple-instance learning:
// each epoch steps on a text's highest-scoring window, so a long document with one injected
// paragraph teaches that paragraph, and a benign document its most attack-like window).
//
// Evaluation holds out whole sources: for each source, a model trained on all the others
// scores it. The threshold is the one at which 1% of all held-out benign texts score above it;
// recall per source at that threshold is what docs/inspection.md reports. Deterministic.

import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { BITS, features, windowScores } from '../../dist/inspect/injection/features.js';
import { InjectionHeuristics, injectionScore } from '../../dist/inspect/injection/heuristics.js';
// The same seeded generator the test fixtures use, so a training run is reproducible.
import { seeded } from '../../dist/inspect/fixtures/samples.js';

const args = process.argv.slice(2);
const dataPath = args[0];
if (!dataPath) {
  console.error('usage: node scripts/injection/train.mjs DATA.jsonl [--out FILE] [--epochs N]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const OUT = opt('--out', 'src/inspect/injection/classifier.json');
const EPOCHS = Number(opt('--epochs', '6'));
const LR = Number(opt('--lr', '0.5'));
const L2 = Number(opt('--l2', '1e-6'));
const FPR = 0.01;
const DIM = 1 << BITS;

const rows = readFileSync(dataPath, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
// Texts derived from one another are held out together: the system prompts of CyberSecEval's
// cases with their attacks, garak's documents with the same documents carrying an injection.
const GROUP = {
  'cyberseceval-system-prompts': 'cyberseceval-injection',
  'garak-documents': 'garak-latent-injection',
};
for (const r of rows) r.source = GROUP[r.source] ?? r.source;
const feats = rows.map((r) => features(r.text));
const sources = [...new Set(rows.map((r) => r.source))].sort();
console.error(`${rows.length} texts, ${sources.length} sources`);

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

function train(indices, epochs = EPOCHS, seed = 1) {
  const w = new Float32Array(DIM);
  const g2 = new Float32Array(DIM).fill(1e-2);
  let bias = 0;
  let b2 = 1e-2;
  const rand = seeded(seed);
  // Each source weighs the same within its class, and the classes weigh the same.
  const perSource = new Map();
  for (const i of indices) {
    const k = `${rows[i].source}:${rows[i].label}`;
    perSource.set(k, (perSource.get(k) ?? 0) + 1);
  }
  const classSources = [0, 1].map(
    (y) => [...perSource.keys()].filter((k) => k.endsWith(`:${y}`)).length,
  );
  const weight = (i) => {
    const r = rows[i];
    const n = perSource.get(`${r.source}:${r.label}`);
    return (indices.length / 2 / classSources[r.label] / n) * 1;
  };
  const lr = LR;
  const l2 = L2;
  const order = [...indices];
  for (let e = 0; e < epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const f = feats[i];
      if (f.tokens === 0) continue;
      const { scores, spans } = windowScores(f, w, bias);
      let best = 0;
      for (let k = 1; k < scores.length; k++) if (scores[k] > scores[best]) best = k;
      const y = rows[i].label;
      const g = (sigmoid(scores[best]) - y) * Math.min(weight(i), 20);
      const [a, b] = spans[best];
      const lo = f.offsets[a];
      const hi = f.offsets[b];
      const norm = 1 / Math.sqrt(hi - lo);
      for (let k = lo; k < hi; k++) {
        const h = f.hashes[k];
        const grad = g * norm + l2 * w[h];
        g2[h] += grad * grad;
        w[h] -= (lr * grad) / Math.sqrt(g2[h]);
      }
      b2 += g * g;
      bias -= (lr * g) / Math.sqrt(b2);
    }
  }
  return { w, bias };
}

function score(model, i) {
  const f = feats[i];
  if (f.tokens === 0) return -Infinity;
  const { scores } = windowScores(f, model.w, model.bias);
  return Math.max(...scores);
}

/** The threshold above which a fraction `fpr` of the negatives' scores lie. */
function thresholdAt(negScores, fpr) {
  const s = [...negScores].sort((a, b) => b - a);
  return s[Math.min(s.length - 1, Math.floor(fpr * s.length))];
}

// Held-out sources: each source scored by a model that never saw it.
const held = new Float64Array(rows.length);
for (const src of sources) {
  const train_ = [];
  const test = [];
  rows.forEach((r, i) => (r.source === src ? test : train_).push(i));
  const model = train(train_);
  for (const i of test) held[i] = score(model, i);
  console.error(`held out ${src}: ${test.length} texts`);
}
// The heuristic tier on the same texts (it was written by hand, trained on none of them).
const heuristics = new InjectionHeuristics();
const heuristic = rows.map((r) => injectionScore(heuristics.detect(r.text)) >= 0.5);
const negHeld = rows.flatMap((r, i) => (r.label === 0 ? [held[i]] : []));
const t = thresholdAt(negHeld, FPR);
const table = sources.map((src) => {
  const idx = rows.flatMap((r, i) => (r.source === src ? [i] : []));
  const pos = idx.filter((i) => rows[i].label === 1);
  const neg = idx.filter((i) => rows[i].label === 0);
  const flagged = (xs) => xs.filter((i) => held[i] > t).length;
  const either = (xs) => xs.filter((i) => held[i] > t || heuristic[i]).length;
  const byHeuristics = (xs) => xs.filter((i) => heuristic[i]).length;
  const embedded = pos.filter((i) => rows[i].kind === 'embedded');
  const rate = (n, xs) => (xs.length ? n / xs.length : null);
  return {
    source: src,
    positives: pos.length,
    negatives: neg.length,
    recall: rate(flagged(pos), pos),
    embeddedRecall: rate(flagged(embedded), embedded),
    falseAlarms: rate(flagged(neg), neg),
    heuristicsRecall: rate(byHeuristics(pos), pos),
    heuristicsFalseAlarms: rate(byHeuristics(neg), neg),
    combinedRecall: rate(either(pos), pos),
    combinedFalseAlarms: rate(either(neg), neg),
  };
});
const allPos = rows.flatMap((r, i) => (r.label === 1 ? [i] : []));
const recall = allPos.filter((i) => held[i] > t).length / allPos.length;
const macroRecall =
  table.filter((r) => r.recall !== null).reduce((a, r) => a + r.recall, 0) /
  table.filter((r) => r.recall !== null).length;

// The shipped model: every source; its threshold is the held-out one.
const final = train(rows.map((_, i) => i));
let max = 0;
for (const v of final.w) max = Math.max(max, Math.abs(v));
const scale = max / 127;
const q = new Int8Array(DIM);
for (let i = 0; i < DIM; i++) q[i] = Math.round(final.w[i] / scale);
const counts = {};
for (const r of rows) {
  counts[r.source] ??= { injection: 0, benign: 0 };
  counts[r.source][r.label ? 'injection' : 'benign']++;
}
const model = {
  format: 'cordon-injection-linear-1',
  bits: BITS,
  bias: final.bias,
  scale,
  threshold: t,
  heldOut: { fpr: FPR, recall, macroRecall, table },
  trainedOn: counts,
  weights: Buffer.from(q.buffer).toString('base64'),
};
writeFileSync(OUT, JSON.stringify(model) + '\n');
const pct = (x) => (x === null ? '' : `${(x * 100).toFixed(1)}%`);
console.log(`threshold ${t.toFixed(3)} (1% of held-out benign texts above it)`);
console.log(
  `recall at 1% FPR over all held-out injections: ${pct(recall)}; mean over sources: ${pct(macroRecall)}\n`,
);
console.log(
  '| held-out source | injections | benign | classifier recall | (embedded) | classifier false alarms | heuristics recall | heuristics false alarms | both: recall | both: false alarms |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of table)
  console.log(
    `| ${r.source} | ${r.positives} | ${r.negatives} | ${pct(r.recall)} | ${pct(r.embeddedRecall)} | ${pct(r.falseAlarms)} | ${pct(r.heuristicsRecall)} | ${pct(r.heuristicsFalseAlarms)} | ${pct(r.combinedRecall)} | ${pct(r.combinedFalseAlarms)} |`,
  );
