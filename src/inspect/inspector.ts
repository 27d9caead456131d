// The inspector: every detector over one text, their findings, and the facts policies read
// (context.content {pii, secrets, injection}). Fail closed: a detector that throws is itself a
// finding of type "detector-error" with score 1, so `pii`/`secrets` list "detector-error" and
// `injection` is 100 — policies that forbid on findings then deny rather than pass the text.

import type { ContentFacts } from '../core/types.js';
import { shippedClassifier } from './injection/classifier.js';
import { injectionScore, InjectionHeuristics } from './injection/heuristics.js';
import { PiiDetector } from './pii/detector.js';
import { SecretsDetector } from './secrets/detector.js';
import type { Detector, Finding } from './types.js';

export const DETECTOR_ERROR = 'detector-error';

export interface Inspection {
  findings: Finding[];
  facts: ContentFacts;
}

export class Inspector {
  constructor(readonly detectors: Detector[] = defaultDetectors()) {}

  async inspect(text: string): Promise<Inspection> {
    const findings: Finding[] = [];
    for (const d of this.detectors) {
      try {
        findings.push(...(await d.detect(text)));
      } catch {
        findings.push({
          detector: d.name,
          type: DETECTOR_ERROR,
          start: 0,
          end: text.length,
          score: 1,
        });
      }
    }
    findings.sort((a, b) => a.start - b.start || b.end - a.end);
    return { findings, facts: contentFacts(findings) };
  }
}

/** Secrets, PII, and injection in two tiers: the heuristics and the shipped classifier. */
export function defaultDetectors(): Detector[] {
  return [...heuristicDetectors(), shippedClassifier()];
}

/** The same without the classifier: the heuristics alone (benchmarks compare the two). */
export function heuristicDetectors(): Detector[] {
  return [new SecretsDetector(), new PiiDetector(), new InjectionHeuristics()];
}

const typesOf = (findings: Finding[], detector: Finding['detector']) =>
  [...new Set(findings.filter((f) => f.detector === detector).map((f) => f.type))].sort();

/** Cedar has no floats: injection is a Long 0..100. */
export function contentFacts(findings: Finding[]): ContentFacts {
  const failed = findings.some((f) => f.detector === 'injection' && f.type === DETECTOR_ERROR);
  return {
    pii: typesOf(findings, 'pii'),
    secrets: typesOf(findings, 'secrets'),
    injection: failed ? 100 : Math.round(injectionScore(findings) * 100),
  };
}
