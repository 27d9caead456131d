// The audit record: what a decision was made about, under which policies, with what outcome,
// as canonical JSON (RFC 8785). Raw input and prompts are kept only when configured; a digest
// always is. Masking (RFC 6901 JSON pointers) applies before the record is hashed.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { DecisionTrace } from '../core/engine.js';
import type {
  CordonFacts,
  Obligation,
  Outcome,
  PolicyError,
  ResourceRef,
  ShadowResult,
} from '../core/types.js';

export interface AuditRecord {
  v: 1;
  /** Absent for decisions. "usage": what a model call used (parent: its decision); "launch": an
   * agent started under compiled kernel rules; "isolation": an isolation applied, released or
   * expired. Events are recorded, never re-evaluated. */
  kind?: 'usage' | 'launch' | 'isolation' | 'failure';
  usage?: { tokens: number };
  /** Position in the log (the Merkle leaf index). */
  seq: number;
  id: string;
  time: string;
  pep: string;
  agent?: string;
  user?: string;
  session?: string;
  /** The decision that led to this one: edges of the execution graph. */
  parent?: string;
  action: string;
  resource: ResourceRef;
  /** Resource types whose parents the caller was trusted to state (so replay believes them too). */
  trustedFor?: string[];
  context?: Record<string, unknown>;
  input?: unknown;
  inputDigest?: string;
  /** The paths the action touches, as the PEP derived them (context.paths). */
  paths?: string[];
  prompt?: string;
  promptDigest?: string;
  documents?: string[];
  /** Delegation chain, session facts, content findings, risk, approval: as the decision saw them. */
  facts: CordonFacts;
  policyVersion: string;
  decision: Outcome;
  reasons: { policy: string; effect: string; principal?: string }[];
  obligations: Obligation[];
  errors?: PolicyError[];
  /** The approval request this decision opened (pending), or the human approval it used. */
  approval?: { id: string; status: 'pending' | 'used'; by?: string; at?: string };
  /** Shadow policies that applied, and what each would have made of the decision. */
  shadow?: ShadowResult[];
  /** The id of the key that signs this log's checkpoints (hex). */
  keyId: string;
}

export interface RecordOptions {
  recordInput: boolean;
  recordPrompt: boolean;
  /** RFC 6901 pointers into the record whose values are replaced before hashing. */
  mask: string[];
}

export const MASKED = '[masked]';

export const digest = (value: unknown): string =>
  `sha256:${createHash('sha256').update(canonical(value)).digest('hex')}`;

export function canonical(value: unknown): string {
  const s = canonicalJson(value);
  if (s === undefined) throw new Error('value has no JSON form');
  return s;
}

export function buildRecord(
  trace: DecisionTrace,
  seq: number,
  keyId: string,
  opts: RecordOptions,
): AuditRecord {
  const { request: r, decision: d } = trace;
  const rec: AuditRecord = {
    v: 1,
    seq,
    id: d.decisionId,
    time: trace.time.toISOString(),
    pep: r.pep ?? 'http',
    action: r.action,
    resource: r.resource,
    facts: trace.facts,
    policyVersion: d.policyVersion,
    decision: d.decision,
    reasons: d.reasons.map((x) =>
      x.principal
        ? { policy: x.policy, effect: x.effect, principal: x.principal }
        : { policy: x.policy, effect: x.effect },
    ),
    obligations: d.obligations,
    keyId,
  };
  // The principals as resolved: from a token when the request carried one.
  if (trace.agent !== undefined) rec.agent = trace.agent;
  if (trace.user !== undefined) rec.user = trace.user;
  if (r.session !== undefined) rec.session = r.session;
  if (r.parent !== undefined) rec.parent = r.parent;
  if (r.context !== undefined) rec.context = r.context;
  if (r.input !== undefined) {
    rec.inputDigest = digest(r.input);
    if (opts.recordInput) rec.input = r.input;
  }
  if (r.paths !== undefined) rec.paths = r.paths;
  if (r.content !== undefined) {
    rec.promptDigest = digest(r.content);
    if (opts.recordPrompt) rec.prompt = r.content;
  }
  if (r.documents) rec.documents = r.documents;
  if (r.trustedFor?.length) rec.trustedFor = r.trustedFor;
  if (d.errors) rec.errors = d.errors;
  if (d.shadow) rec.shadow = d.shadow;
  if (trace.kind) rec.kind = trace.kind;
  if (trace.usage) rec.usage = trace.usage;
  if (d.approval) {
    rec.approval = { id: d.approval.id, status: d.approval.status };
    if (d.approval.status === 'used' && trace.approval)
      Object.assign(rec.approval, { by: trace.approval.by, at: trace.approval.at });
  }
  return opts.mask.length > 0 ? maskRecord(rec, opts.mask) : rec;
}

function pointerTokens(pointer: string): string[] {
  if (pointer === '' || !pointer.startsWith('/'))
    throw new Error(`"${pointer}" is not a JSON pointer (RFC 6901)`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Replaces the value at each pointer that exists; the integrity fields cannot be masked. */
export function maskRecord(record: AuditRecord, pointers: string[]): AuditRecord {
  const copy = structuredClone(record) as unknown as Record<string, unknown>;
  for (const p of pointers) {
    const tokens = pointerTokens(p);
    if (['v', 'seq', 'id', 'keyId', 'policyVersion'].includes(tokens[0]!)) {
      throw new Error(`${p}: the record's identity fields cannot be masked`);
    }
    let node: unknown = copy;
    for (const t of tokens.slice(0, -1))
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[t] : undefined;
    const last = tokens.at(-1)!;
    if (node && typeof node === 'object' && Object.hasOwn(node, last))
      (node as Record<string, unknown>)[last] = MASKED;
  }
  return copy as unknown as AuditRecord;
}

export function validateMask(pointers: string[]): void {
  for (const p of pointers) maskRecord({ v: 1 } as AuditRecord, [p]);
}
