// Shapes shared by every layer: what a PEP asks, what the PDP answers.

import type { IsolationFacts } from './isolation.js';

export interface EntityRef {
  type: string;
  id: string;
}

/** A resource as a PEP names it; attrs/parents describe things no entity store lists. */
export interface ResourceRef extends EntityRef {
  attrs?: Record<string, unknown>;
  parents?: EntityRef[];
}

export interface ActionRequest {
  agent?: string;
  user?: string;
  token?: string;
  session?: string;
  action: string;
  resource: ResourceRef;
  input?: unknown;
  /**
   * Absolute paths the action touches (the MCP gateway derives them from a tool's arguments):
   * Cordon fills context.paths, pathsAllIn and pathsSomeIn from them (core/path-facts.ts).
   */
  paths?: string[];
  content?: string;
  context?: Record<string, unknown>;
  /** Which enforcement point asked (mcp, llm, egress, sdk, http, cli, test). */
  pep?: string;
  /** The decision that led to this action (the execution graph in the audit log). */
  parent?: string;
  /** Digests ("sha256:…") of documents the action reads or returns, for the audit record. */
  documents?: string[];
  /**
   * Resource types whose `parents` (set membership) this caller is trusted to state: set by the
   * adapter, never by the caller (the HTTP schema refuses the key). In-process enforcement
   * points are trusted for the resources they synthesize (the MCP gateway for its tools).
   */
  trustedFor?: string[];
}

/** A part of the caller's resource description that was not believed, and why. */
export interface IgnoredField {
  field: string;
  reason: string;
}

export type Outcome = 'allow' | 'deny' | 'require_approval';
export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';
export type PrincipalRole = 'agent' | 'user';

export interface Reason {
  /** The policy's `@id`, or a `cordon/...` id for Cordon's own rules (default deny, errors). */
  policy: string;
  effect: 'permit' | 'forbid';
  annotations: Record<string, string>;
  /** Which evaluation produced it: the acting agent or the on-behalf-of user. */
  principal?: PrincipalRole;
  message?: string;
}

export interface Obligation {
  type: string;
  policy?: string;
  [key: string]: unknown;
}

export interface Risk {
  score: number;
  level: RiskLevel;
  /**
   * What raised the score, when the risk engine ran: each signal's strength (0–1) and the points
   * it adds at full strength; the score is the sum of value × weight, capped at 100.
   */
  signals?: RiskSignal[];
}

export interface RiskSignal {
  name: string;
  value: number;
  weight: number;
  /** What the signal saw (the list entry a destination matched, the error of a failed signal). */
  detail?: string;
}

/** What a shadow policy (`@mode("shadow")`) would have done to this decision; it did not. */
export interface ShadowResult {
  policy: string;
  effect: 'permit' | 'forbid';
  principal: PrincipalRole;
  /** The outcome had the policy been in force. */
  wouldBe: Outcome;
  /** Whether that differs from the decision's outcome. */
  wouldChange: boolean;
}

export interface PolicyError {
  policy: string;
  principal: PrincipalRole;
  message: string;
}

export interface Decision {
  decision: Outcome;
  reasons: Reason[];
  obligations: Obligation[];
  risk: Risk;
  policyVersion: string;
  decisionId: string;
  /** Policies that errored during evaluation (an erroring forbid also denies). */
  errors?: PolicyError[];
  /** require_approval: the request a human must answer; allow: the approval it used. */
  approval?: DecisionApproval;
  /** What of the caller's resource description was not believed (derived, listed, untrusted). */
  ignored?: IgnoredField[];
  /** Shadow policies that applied: what each would have done (the outcome is not theirs). */
  shadow?: ShadowResult[];
  /**
   * An allowed tool call whose result is decided too (as this action, `readToolResult`),
   * because some policy names it: the enforcement point decides the result before the agent
   * reads it (decision/result-action.ts).
   */
  resultAction?: string;
}

export interface DecisionApproval {
  id: string;
  status: 'pending' | 'used';
  expiresAt?: string;
  by?: string;
}

/** Context keys only Cordon may set; callers who try are refused. */
export const RESERVED_CONTEXT_KEYS = [
  'delegation',
  'session',
  'content',
  'risk',
  'approval',
  'usage',
  'baseline',
  'isolation',
  'paths',
  'pathsAllIn',
  'pathsSomeIn',
] as const;
export type ReservedContextKey = (typeof RESERVED_CONTEXT_KEYS)[number];

export interface DelegationFacts {
  depth: number;
  chain: string[];
  user: string;
}
export interface SessionFacts {
  id: string;
  actions: string[];
  /** This session's labels and those the agent and the user picked up within the label window. */
  labels: string[];
  /** This session's labels alone. */
  sessionLabels: string[];
  counts: Record<string, number>;
}
export interface ContentFacts {
  pii: string[];
  secrets: string[];
  injection: number;
}
export interface ApprovalFacts {
  granted: boolean;
  by: string;
}
/** Model use over the budget window, as the upstream providers reported it. */
export interface UsageTotals {
  requests: number;
  tokens: number;
}
export interface UsageFacts {
  agent: UsageTotals;
  user: UsageTotals;
}

/**
 * How the request compares with what the agent usually does (src/risk/baseline.ts). `mode` is
 * the agent's baseline mode (learn, monitor, enforce; "off" where no baselines are kept); in
 * learn mode nothing is novel and the deviation is 0.
 */
export interface BaselineFacts {
  mode: string;
  novel: {
    tool: boolean;
    model: boolean;
    destination: boolean;
    path: boolean;
    dataset: boolean;
    delegate: boolean;
  };
  /** 0–100. */
  deviation: number;
  /** Percent of the usual action rate; 0 while there is no usual rate. */
  rateRatio: number;
}

/** The facts Cordon itself establishes for a request; all land in the Cedar context. */
export interface CordonFacts {
  delegation: DelegationFacts;
  session: SessionFacts;
  content: ContentFacts;
  risk: Risk;
  approval: ApprovalFacts;
  usage: UsageFacts;
  baseline: BaselineFacts;
  /** The isolation in force for the principal (core/isolation.ts); absent when there is none. */
  isolation?: IsolationFacts;
}
