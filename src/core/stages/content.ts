// Content findings: the request's `content` (a prompt, a tool result, a model output) is
// inspected and the findings reach Cedar as context.content {pii, secrets, injection}.
// The inspector is a port: the default is src/inspect's detectors, which run no I/O.

import type { DecisionState, Stage } from '../pipeline.js';
import type { ContentFacts } from '../types.js';

export interface ContentFinding {
  detector: 'secrets' | 'pii' | 'injection';
  type: string;
  start: number;
  end: number;
  score: number;
}

export interface ContentInspector {
  inspect(text: string): Promise<{ findings: ContentFinding[]; facts: ContentFacts }>;
}

export function contentStage(inspector: () => ContentInspector): Stage {
  return {
    name: 'content',
    async run(s: DecisionState) {
      const text = s.request.content;
      if (text === undefined || text === '') return;
      // An inspector that throws fails the decision (the engine denies on any stage error).
      const r = await inspector().inspect(text);
      s.facts.content = r.facts;
      s.findings = r.findings;
    },
  };
}
