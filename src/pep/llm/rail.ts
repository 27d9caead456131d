// The content rails of the LLM gateway: what the model is sent and what it answers are redacted
// for the targets the call's decision asks for (`@redact` obligations), plus the default ones
// (`llm.redact`, secrets unless configured otherwise), in both directions. Streamed answers go
// through a StreamRedactor per text stream, so a secret split across events is still caught.

import type { Obligation } from '../../core/types.js';
import { redactionPlan, selectFindings } from '../../inspect/obligations.js';
import { PiiDetector } from '../../inspect/pii/detector.js';
import { mergeSpans, redactText, type RedactOperator } from '../../inspect/redact.js';
import { SecretsDetector } from '../../inspect/secrets/detector.js';
import { StreamRedactor, type SyncDetector } from '../../inspect/stream.js';

export interface TextStream {
  push(chunk: string): string;
  end(): string;
}

export interface TextRail {
  /** Redacts one whole text. */
  redact(text: string): string;
  /**
   * Many texts at once (the strings of a body): detected as one text, joined by newlines, so
   * the detectors run once rather than once per string; a finding across a join is redacted on
   * both sides. The same array when nothing changed.
   */
  redactMany(texts: string[]): string[];
  /** A redactor for one stream of text (one choice, one content block). */
  stream(): TextStream;
  /**
   * Tokens (logprobs) whose joined text holds something to redact: each run of tokens a
   * finding touches becomes the redacted run in its first token and '' in the others. The
   * same array when nothing changed.
   */
  redactTokens(tokens: string[]): string[];
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
    redactMany(texts) {
      if (idle || texts.length === 0) return texts;
      const joined = texts.join('\n');
      const found = wanted.detect(joined);
      if (found.length === 0) return texts;
      const spans = mergeSpans(found);
      const out = [...texts];
      let at = 0;
      for (let i = 0; i < texts.length; i++) {
        const end = at + texts[i]!.length;
        const mine = spans
          .filter((sp) => sp.start < end && sp.end > at)
          .map((sp) => ({
            ...sp,
            start: Math.max(sp.start, at) - at,
            end: Math.min(sp.end, end) - at,
          }));
        if (mine.length > 0) out[i] = redactText(texts[i]!, mine, { operator });
        at = end + 1;
      }
      return out;
    },
    redactTokens(tokens) {
      if (idle || tokens.length === 0) return tokens;
      const joined = tokens.join('');
      const found = wanted.detect(joined);
      if (found.length === 0) return tokens;
      const spans = mergeSpans(found);
      // Each token touched by a span is marked (an empty one inside a span too).
      const starts: number[] = [];
      const marked: boolean[] = [];
      let at = 0;
      for (const t of tokens) {
        const end = at + t.length;
        starts.push(at);
        marked.push(spans.some((sp) => sp.start < Math.max(end, at + 1) && sp.end > at));
        at = end;
      }
      starts.push(at);
      const out = [...tokens];
      // A run of marked tokens holds every span it touches whole: it becomes one redaction.
      for (let i = 0; i < tokens.length; i++) {
        if (!marked[i]) continue;
        let j = i;
        while (j + 1 < tokens.length && marked[j + 1]) j++;
        const from = starts[i]!;
        const to = starts[j + 1]!;
        const inRun = spans
          .filter((sp) => sp.start < to && sp.end > from)
          .map((sp) => ({ ...sp, start: sp.start - from, end: sp.end - from }));
        out[i] = redactText(joined.slice(from, to), inRun, { operator });
        for (let k = i + 1; k <= j; k++) out[k] = '';
        i = j;
      }
      return out;
    },
  };
}
