// The routes of Cordon's HTTP API the console uses, with the shapes docs/api.md ("Console API")
// documents. Each function is one route; pages never build URLs themselves.

import { get, post, query, request } from './http.js';

export interface Session {
  user: string;
  admin: boolean;
  csrf: string;
  expiresAt: string;
  idleTimeoutSeconds: number;
}

export type Outcome = 'allow' | 'deny' | 'require_approval';

/** What every record of the audit log says of itself. */
interface RecordHead {
  seq: number;
  id: string;
  time: string;
  kind?: string;
  pep: string;
  agent?: string;
  user?: string;
  session?: string;
  parent?: string;
  action: string;
  decision: Outcome;
}

export interface DecisionSummary extends RecordHead {
  resource: { type: string; id: string };
  policies: string[];
  risk?: { score: number; level: string };
  approval?: { id: string; status: string };
  obligations: string[];
}

export interface DecisionFilter {
  agent?: string;
  user?: string;
  action?: string;
  outcome?: string;
  policy?: string;
}

export interface RiskSignal {
  name: string;
  value: number;
  weight: number;
  detail?: string;
}

export interface AuditRecord extends RecordHead {
  resource: { type: string; id: string; attrs?: Record<string, unknown> };
  context?: Record<string, unknown>;
  input?: unknown;
  inputDigest?: string;
  paths?: string[];
  prompt?: string;
  promptDigest?: string;
  facts: {
    risk?: { score: number; level: string; signals?: RiskSignal[] };
    [k: string]: unknown;
  };
  policyVersion: string;
  reasons: { policy: string; effect: string; principal?: string }[];
  obligations: { type?: string; [k: string]: unknown }[];
  errors?: { policy: string; message: string }[];
  approval?: { id: string; status: string; by?: string; at?: string };
  keyId: string;
  [k: string]: unknown;
}

export interface PolicyRef {
  id: string;
  version: string;
  file: string;
  line: number;
}

export interface DecisionDetail {
  record: AuditRecord;
  policies: PolicyRef[];
  parent: DecisionSummary | null;
  children: DecisionSummary[];
  session: { id: string; decisions: DecisionSummary[] } | null;
}

export interface ProofAnswer {
  decisionId: string;
  index: number;
  treeSize: number;
  recordText: string;
  leafHash: string;
  inclusion: string[];
  checkpoint: { note: string; text: string; origin: string; size: number; root: string };
  key: { verifierKey: string; name: string; id: string; publicKey: string; algorithm: string };
}

export interface PolicySource {
  id: string;
  version: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  effect: string;
  annotations: Record<string, string>;
  text: string;
  shadow: boolean;
}

export interface Approval {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'used';
  agent: string;
  user?: string;
  session?: string;
  request: {
    action: string;
    resource: { type: string; id: string };
    input?: unknown;
    context?: unknown;
  };
  decisionId: string;
  reasons: { policy: string; effect?: string }[];
  createdAt: string;
  expiresAt: string;
  approver?: string;
  note?: string;
  decidedAt?: string;
}

export interface IsolationState {
  agent: string;
  user?: string;
  session?: string;
  measures: {
    revokedTools?: string[];
    egress?: string;
    readOnly?: boolean;
    noDelegation?: boolean;
    full?: boolean;
  };
  reason: string;
  by: string;
  at?: string;
  until?: string;
  [k: string]: unknown;
}

export interface AgentRow {
  id: string;
  listed: boolean;
  attrs?: Record<string, unknown>;
  lastSeen?: string;
  counts: { allow: number; deny: number; require_approval: number };
  maxRisk?: number;
  isolation: IsolationState[];
}

export interface RiskBucket {
  start: string;
  count: number;
  deny: number;
  maxScore: number;
  meanScore: number;
}

export interface AgentDetail {
  id: string;
  listed: boolean;
  attrs?: Record<string, unknown>;
  recent: DecisionSummary[];
  risk: RiskBucket[];
  baseline: {
    mode?: { mode: string; by?: string; at?: string };
    observations?: number;
    since?: string;
    rateRatio?: number;
    dimensions?: Record<string, unknown>;
    [k: string]: unknown;
  } | null;
  isolation: IsolationState[];
}

export interface PolicyFile {
  file: string;
  text: string;
}

export interface PolicySet {
  version: string;
  size: number;
  files: PolicyFile[];
  policies: { id: string; file: string; line: number; effect: string; shadow: boolean }[];
  reloadError?: string;
  editable: boolean;
}

export interface Located {
  file: string;
  line: number;
  column: number;
  message: string;
  location: string;
}

export interface Validation {
  ok: boolean;
  version?: string;
  errors: Located[];
  warnings: Located[];
}

export interface TestRun {
  ok: boolean;
  passed: number;
  failed: number;
  results: {
    file: string;
    name: string;
    passed: boolean;
    expected: string;
    decision: string;
    problems?: string[];
  }[];
  errors: Located[];
}

export interface WhatIf {
  version: string;
  total: number;
  changed: number;
  transitions: {
    transition: string;
    count: number;
    examples: {
      id: string;
      agent?: string | null;
      user?: string | null;
      action: string;
      resource: { type: string; id: string } | string;
      was: string;
      now: string;
      policies: string[];
    }[];
  }[];
}

export interface Checkpoints {
  verifierKey: string;
  checkpoints: { size: number; time: string; note: string }[];
}

const enc = encodeURIComponent;

export const api = {
  session: () => get<Session>('/v1/console/session'),
  signIn: (body: { signInToken: string } | { idToken: string }) =>
    request<Session>('POST', '/v1/console/session', body, { signIn: true }),
  signOut: () => request<void>('DELETE', '/v1/console/session'),

  decisionStreamUrl: (f: DecisionFilter) =>
    `/v1/console/decisions/stream${query({ ...f, backlog: 200 })}`,
  decisions: (f: DecisionFilter & { before?: number; limit?: number }) =>
    get<{ decisions: DecisionSummary[]; next: number | null }>(
      `/v1/console/decisions${query({ ...f })}`,
    ),
  decision: (id: string) => get<DecisionDetail>(`/v1/console/decisions/${enc(id)}`),
  proof: (id: string) => get<ProofAnswer>(`/v1/console/decisions/${enc(id)}/proof`),
  policySource: (id: string, version?: string) =>
    get<PolicySource>(`/v1/console/policies/${enc(id)}/source${query({ version })}`),

  approvalsStreamUrl: () => '/v1/console/approvals/stream',
  answer: (id: string, verb: 'approve' | 'deny', note: string) =>
    post<unknown>(`/v1/approvals/${enc(id)}/${verb}`, note ? { note } : {}),

  agents: (window = '24h') => get<{ agents: AgentRow[] }>(`/v1/console/agents${query({ window })}`),
  agent: (id: string, window = '24h', buckets = 24) =>
    get<AgentDetail>(`/v1/console/agents/${enc(id)}${query({ window, buckets })}`),
  isolate: (body: {
    agent: string;
    measures: IsolationState['measures'];
    reason: string;
    until?: string;
  }) => post<{ isolation: IsolationState }>('/v1/isolation', body),
  release: (agent: string, reason: string) =>
    post<{ released: IsolationState[] }>('/v1/isolation/release', { agent, reason }),

  policies: () => get<PolicySet>('/v1/console/policies'),
  validate: (files: PolicyFile[]) => post<Validation>('/v1/console/policies/validate', { files }),
  test: (files: PolicyFile[]) => post<TestRun>('/v1/console/policies/test', { files }),
  whatif: (files: PolicyFile[], since?: string) =>
    post<WhatIf>('/v1/console/policies/whatif', since ? { files, since } : { files }),

  checkpoints: () => get<Checkpoints>('/v1/console/audit/checkpoints?limit=50'),
  verifyUrl: () => '/v1/console/audit/verify',
  exportUrl: (format: 'jsonl' | 'ocsf', since?: string) =>
    `/v1/console/audit/export${query({ format, since })}`,
};
