// The enrichment pipeline of DESIGN §1: each stage adds facts (identity, session, content,
// baseline, risk) to the decision state before Cedar runs; a stage may also refuse outright.

import type { SlicedEntity } from './entities.js';
import type { ApprovalGrant } from './stages/approval.js';
import type { VerifiedDelegation } from './stages/identity.js';
import type { LabelOrigin } from './stages/session.js';
import type { ContentFinding } from './stages/content.js';
import type { CompiledPolicySet } from './policy-set.js';
import type { TracerPort } from './tracer.js';
import type {
  ActionRequest,
  BaselineFacts,
  CordonFacts,
  IgnoredField,
  Obligation,
  Reason,
} from './types.js';

export interface DecisionState {
  readonly request: ActionRequest;
  readonly set: CompiledPolicySet;
  readonly now: Date;
  agent?: SlicedEntity;
  user?: SlicedEntity;
  /** The verified delegation token, when the request came with one. */
  token?: VerifiedDelegation;
  /** Where each session label came from (set by the session stage). */
  labelOrigins?: LabelOrigin[];
  /** The resource as evaluated (set by the engine), for what comes after the decision. */
  resource?: { attrs: Record<string, unknown> };
  /** What of the caller's resource description the engine did not believe. */
  ignored?: IgnoredField[];
  facts: CordonFacts;
  /** Extra context keys a stage wants Cedar to see (beyond the Cordon facts). */
  context: Record<string, unknown>;
  obligations: Obligation[];
  /** The human approval this request may use; claimed only if the decision allows. */
  approvalGrant?: ApprovalGrant;
  /** What the content stage found in the request's `content` (spans for redaction). */
  findings?: ContentFinding[];
  /** The session's history as the risk signals read it (set by the session stage). */
  history?: { retried: boolean; approvalsDenied: number };
  /** Set by a stage that refuses the request; the decision is then deny with this reason. */
  denial?: Reason;
}

export interface Stage {
  readonly name: string;
  run(state: DecisionState): void | Promise<void>;
}

/**
 * Runs one stage, inside a `cordon.stage.<name>` span when a tracer is set. Without one it is a
 * plain call: no closure, no span name built, which is the hot path of every decision.
 */
export function runStage(
  stage: Stage,
  state: DecisionState,
  tracer: TracerPort | undefined,
): void | Promise<void> {
  if (!tracer) return stage.run(state);
  return tracer.span(`cordon.stage.${stage.name}`, {}, () => stage.run(state));
}

export function initialFacts(session: string | undefined): CordonFacts {
  return {
    delegation: { depth: 0, chain: [], user: '' },
    session: {
      id: session ?? '',
      actions: [],
      labels: [],
      sessionLabels: [],
      counts: { total: 0, destructive: 0, denied: 0 },
    },
    content: { pii: [], secrets: [], injection: 0 },
    risk: { score: 0, level: 'low' },
    approval: { granted: false, by: '' },
    usage: { agent: { requests: 0, tokens: 0 }, user: { requests: 0, tokens: 0 } },
    baseline: { mode: 'off', novel: noNovelty(), deviation: 0, rateRatio: 0 },
  };
}

/** context.baseline.novel with nothing novel. */
export function noNovelty(): BaselineFacts['novel'] {
  return {
    tool: false,
    model: false,
    destination: false,
    path: false,
    dataset: false,
    delegate: false,
  };
}
