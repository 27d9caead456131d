// The injection classifier that ships with Cordon: a linear model over hashed words, word pairs
// and character n-grams (features.ts), trained by scripts/injection/train.mjs on public labelled
// data (docs/inspection.md names the sources, their commits and licences). It runs in process
// with no download: the weights (int8, 2^18 of them) are in classifier.json beside this file.
// A text's score is its best window of 32 tokens, so an instruction buried in a long email or
// tool result counts as much as one sent alone. Its finding joins the heuristics' in
// context.content.injection; policies decide what a score means.

import type { Detector, Finding } from '../types.js';
import { BITS, features, windowScores } from './features.js';
import shipped from './classifier.json' with { type: 'json' };

export interface ClassifierModel {
  format: string;
  bits: number;
  bias: number;
  /** int8 weight × scale = weight. */
  scale: number;
  /** The raw score at which 1% of held-out benign texts are flagged. */
  threshold: number;
  /** Base64 of the int8 weights. */
  weights: string;
}

/** The score a text at the threshold gets: what the example policies withhold (≥ 70). */
const AT_THRESHOLD = 0.7;
/** Findings under this score are not reported. */
const REPORTED = 0.5;

export class InjectionClassifier implements Detector {
  readonly name = 'injection' as const;
  private readonly weights: Int8Array;

  constructor(private readonly model: ClassifierModel = shipped as unknown as ClassifierModel) {
    if (model.format !== 'cordon-injection-linear-1' || model.bits !== BITS)
      throw new Error(
        `injection classifier: unsupported model format ${model.format}/${model.bits}`,
      );
    const bytes = Buffer.from(model.weights, 'base64');
    if (bytes.length !== 1 << BITS)
      throw new Error(`injection classifier: ${bytes.length} weights, expected ${1 << BITS}`);
    this.weights = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** The raw score (logit) of the text's best window and that window's span. */
  score(text: string): { logit: number; start: number; end: number } | undefined {
    const f = features(text);
    if (f.tokens === 0) return undefined;
    const { scores, spans } = windowScores(f, this.weights, this.model.bias, this.model.scale);
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
    const [a, b] = spans[best]!;
    return { logit: scores[best]!, start: f.starts[a]!, end: f.ends[b - 1]! };
  }

  /**
   * 0..1, calibrated so that the held-out threshold (1% false alarms) maps to 0.7: a logistic of
   * the distance from it, in the model's own units.
   */
  probability(logit: number): number {
    const shift = Math.log(AT_THRESHOLD / (1 - AT_THRESHOLD));
    return 1 / (1 + Math.exp(-(logit - this.model.threshold + shift)));
  }

  detect(text: string): Finding[] {
    const s = this.score(text);
    if (!s) return [];
    const score = this.probability(s.logit);
    if (score < REPORTED) return [];
    return [{ detector: 'injection', type: 'classifier', start: s.start, end: s.end, score }];
  }
}

let instance: InjectionClassifier | undefined;
/** The shipped classifier, its weights decoded once. */
export function shippedClassifier(): InjectionClassifier {
  return (instance ??= new InjectionClassifier());
}
