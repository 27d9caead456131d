// The content rails of the LLM gateway: what the model is sent and what it answers are redacted
// for the targets the call's decision asks for (`@redact` obligations), plus the default ones
// (`llm.redact`, secrets unless configured otherwise), in both directions. Streamed answers go
// through a StreamRedactor per text stream, so a secret split across events is still caught.

import type { Obligation } from '../core/types.js';
import { redactionPlan, selectFindings } from '../inspect/obligations.js';
import { PiiDetector } from '../inspect/pii/detector.js';
import { redactText, type RedactOperator } from '../inspect/redact.js';
import { SecretsDetector } from '../inspect/secrets/detector.js';
import { StreamRedactor, type SyncDetector } from '../inspect/stream.js';

export interface TextStream {
  push(chunk: string): string;
  end(): string;
}

export interface TextRail {
  /** Redacts one whole text. */
  redact(text: string): string;
  /** A redactor for one stream of text (one choice, one content block). */
  stream(): TextStream;
  /** True when there is nothing to redact: texts pass as they are. */
  readonly idle: boolean;
}

let detectors: SyncDetector[] | undefined;
const allDetectors = () => (detectors ??= [new SecretsDetector(), new PiiDetector()]);

/** The rail for one call: the default targets and the decision's redact obligations. */
export function textRail(defaults: string[], obligations: Obligation[]): TextRail {
  const plan = redactionPlan(obligations);
  const targets = [...new Set([...defaults, ...plan.targets])];
  const operator: RedactOperator = plan.targets.length > 0 ? plan.operator : 'replace';
  const wanted: SyncDetector = {
    detect: (text) =>
      selectFindings(
        allDetectors().flatMap((d) => d.detect(text)),
        targets,
      ),
  };
  const idle = targets.length === 0;
  return {
    idle,
    redact: (text) => (idle || !text ? text : redactText(text, wanted.detect(text), { operator })),
    stream: () =>
      idle ? { push: (s) => s, end: () => '' } : new StreamRedactor([wanted], { operator }),
  };
}
