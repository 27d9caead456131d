// Why a decision came out as it did, policy by policy (`cordon policy explain`). For each policy
// the action index offers for an evaluated principal, Cedar itself judges every part on its
// own: the principal, action and resource scopes, then each `when`/`unless` condition in order,
// with the request, context and entity slice that evaluation used. Each part becomes a permit
// policy of its own, and one isAuthorized call answers them all: a part holds when its permit is
// satisfied, and Cedar's diagnostics carry the error of a condition that could not be evaluated.

import { cedar, type PolicyJson } from './cedar.js';
import { slice, type EvalInput } from './evaluate.js';
import type { SlicedEntity } from './entities.js';
import type { PolicyMeta } from './policy-set.js';
import type { EntityRef, PrincipalRole } from './types.js';

type ScopeVar = 'principal' | 'action' | 'resource';
const SCOPES: readonly ScopeVar[] = ['principal', 'action', 'resource'];

export interface ScopeExplained {
  /** The constraint as Cedar prints it (`principal in Team::"sre"`), or the bare variable. */
  constraint: string;
  matched: boolean;
}

export interface ConditionExplained {
  kind: 'when' | 'unless';
  /** The condition's expression as Cedar prints it. */
  text: string;
  /**
   * held: it lets the policy apply (a `when` true, an `unless` false); failed: it does not;
   * error: Cedar could not evaluate it; not-evaluated: an earlier part already settled the policy.
   */
  result: 'held' | 'failed' | 'error' | 'not-evaluated';
  /** What the expression evaluated to (absent when it errored or was not evaluated). */
  value?: boolean;
  error?: string;
}

export interface PolicyExplained {
  policy: string;
  file: string;
  line?: number;
  effect: 'permit' | 'forbid';
  /** Its `@outcome` annotation, when it has one. */
  outcome?: string;
  /** `@mode("shadow")`: reported, never deciding. */
  shadow?: boolean;
  /** An approval is on record, so this require_approval gate is not evaluated for the decision. */
  waived?: boolean;
  scope: Record<ScopeVar, ScopeExplained>;
  conditions: ConditionExplained[];
  /**
   * satisfied: scope matched and every condition held; not-satisfied: a condition failed;
   * scope-mismatch: a scope did not match (the conditions are not evaluated); error: a
   * condition errored (Cordon denies when the policy is a forbid).
   */
  result: 'satisfied' | 'not-satisfied' | 'scope-mismatch' | 'error';
}

export interface PrincipalExplained {
  role: PrincipalRole;
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  policies: PolicyExplained[];
}

/** The parts of one policy as standalone permits, keyed by the id they are given. */
interface Parts {
  meta: PolicyMeta;
  scopeIds: Record<ScopeVar, string>;
  conditionIds: string[];
}

const ALL = { op: 'All' } as const;

function permit(over: Partial<PolicyJson>): PolicyJson {
  return {
    effect: 'permit',
    principal: ALL,
    action: ALL,
    resource: ALL,
    conditions: [],
    ...over,
  } as PolicyJson;
}

function cedarText(json: PolicyJson): string {
  const r = cedar.policyToText(json);
  return r.type === 'success' ? r.text : '(not printable)';
}

/** `principal in Team::"sre"` out of `permit(principal in Team::"sre", action, resource);`. */
function scopeText(v: ScopeVar, json: PolicyJson): string {
  const c = json[v] as { op: string };
  if (c.op === 'All') return v;
  const text = cedarText(permit({ [v]: c }));
  const m = /^permit\s*\(([\s\S]*)\)\s*;\s*$/.exec(text.trim());
  if (!m) return text;
  const inner = m[1]!.trim();
  // The other two variables print bare: strip them from the ends, never split on a comma.
  if (v === 'principal') return inner.replace(/,\s*action,\s*resource$/, '');
  if (v === 'resource') return inner.replace(/^principal,\s*action,\s*/, '');
  return inner.replace(/^principal,\s*/, '').replace(/,\s*resource$/, '');
}

/** The expression of a condition out of `permit(principal, action, resource) when { … };`. */
function conditionText(body: unknown): string {
  const text = cedarText(permit({ conditions: [{ kind: 'when', body } as never] }));
  const m = /when\s*\{([\s\S]*)\}\s*;\s*$/.exec(text);
  return m ? m[1]!.trim().replace(/\s+/g, ' ') : text;
}

function lineOf(meta: PolicyMeta, sources: { file: string; text: string }[]): number | undefined {
  const src = sources.find((s) => s.file === meta.file);
  const at = src?.text.indexOf(meta.text) ?? -1;
  if (!src || at < 0) return undefined;
  let line = 1;
  for (let i = 0; i < at; i++) if (src.text.charCodeAt(i) === 10) line++;
  return line;
}

/** Explains one evaluation (one principal) over the policies the action index offers for it. */
export function explainEvaluation(input: EvalInput): PrincipalExplained {
  const { set } = input;
  const candidates = set.indexedFor(input.action.uid.id);
  const entities: SlicedEntity[] = slice(input);
  // The action entity always goes in: an action scope naming a group reads its ancestors.
  if (!entities.some((e) => e.uid.type === 'Action' && e.uid.id === input.action.uid.id))
    entities.push(input.action);

  const staticPolicies: Record<string, PolicyJson> = {};
  const parts: Parts[] = candidates.map((meta, i) => {
    const scopeIds = {} as Record<ScopeVar, string>;
    for (const v of SCOPES) {
      const id = `p${i}.${v}`;
      scopeIds[v] = id;
      staticPolicies[id] = permit({ [v]: meta.json[v] });
    }
    const conditionIds = meta.json.conditions.map((c, k) => {
      const id = `p${i}.c${k}`;
      staticPolicies[id] = permit({ conditions: [{ kind: 'when', body: c.body } as never] });
      return id;
    });
    return { meta, scopeIds, conditionIds };
  });

  const answer = cedar.isAuthorized({
    principal: input.principal.uid,
    action: input.action.uid,
    resource: input.resource.uid,
    context: input.context as never,
    policies: { staticPolicies },
    entities: entities as never,
  });
  if (answer.type === 'failure')
    throw new Error(
      `Cedar rejected the request: ${answer.errors.map((e) => e.message).join('; ')}`,
    );
  const satisfied = new Set(answer.response.diagnostics.reason);
  const errors = new Map(
    answer.response.diagnostics.errors.map((e) => [e.policyId, e.error.message]),
  );

  const policies = parts.map(({ meta, scopeIds, conditionIds }): PolicyExplained => {
    const scope = {} as Record<ScopeVar, ScopeExplained>;
    for (const v of SCOPES)
      scope[v] = { constraint: scopeText(v, meta.json), matched: satisfied.has(scopeIds[v]) };
    const scopeOk = SCOPES.every((v) => scope[v].matched);
    let result: PolicyExplained['result'] = scopeOk ? 'satisfied' : 'scope-mismatch';
    const conditions = meta.json.conditions.map((c, k): ConditionExplained => {
      const base = { kind: c.kind, text: conditionText(c.body) };
      // Cedar stops at the first part that settles the policy: the rest were never evaluated.
      if (result !== 'satisfied') return { ...base, result: 'not-evaluated' };
      const id = conditionIds[k]!;
      const error = errors.get(id);
      if (error !== undefined) {
        result = 'error';
        return { ...base, result: 'error', error };
      }
      const value = satisfied.has(id);
      const held = value !== (c.kind === 'unless');
      if (!held) result = 'not-satisfied';
      return { ...base, result: held ? 'held' : 'failed', value };
    });
    const out: PolicyExplained = {
      policy: meta.id,
      file: meta.file,
      effect: meta.effect,
      scope,
      conditions,
      result,
    };
    const line = lineOf(meta, set.sources.policies);
    if (line !== undefined) out.line = line;
    if (meta.outcome) out.outcome = meta.outcome;
    if (meta.shadow) out.shadow = true;
    if (input.approved && meta.effect === 'forbid' && meta.outcome === 'require_approval')
      out.waived = true;
    return out;
  });
  return {
    role: input.role,
    principal: input.principal.uid,
    action: input.action.uid,
    resource: input.resource.uid,
    policies,
  };
}
