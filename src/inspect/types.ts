// What detectors report: typed findings with spans, never the matched text itself.

export type DetectorName = 'secrets' | 'pii' | 'injection';

export interface Finding {
  detector: DetectorName;
  /** The kind of thing found: a gitleaks rule id, a PII type, an injection technique. */
  type: string;
  /** UTF-16 offsets into the inspected text, end exclusive. */
  start: number;
  end: number;
  /** Confidence 0..1. */
  score: number;
}

/** One detector; a thrown error is a finding of its own (the inspector fails closed). */
export interface Detector {
  readonly name: DetectorName;
  detect(text: string): Finding[] | Promise<Finding[]>;
}
