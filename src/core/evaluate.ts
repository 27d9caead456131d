// One Cedar evaluation for one principal, read into Cordon's terms: which policies determined
// it, which errored, and what the outcome is once `@outcome` annotations and approvals apply.
// With `unknownInput`, `context.input` (and the path facts derived from it) are Cedar's unknowns
// and Cedar evaluates partially: the request counts as permitted when some input could be
// (policies left with a residual on the input), and as denied only when no input can be (no
// permit can apply, or a forbid applies or errors whatever the input is).

import { cedar } from './cedar.js';
import { redactObligation } from '../inspect/obligations.js';
import { authorizeCompiled, Unsupported } from './compiled/index.js';
import type { SlicedEntity } from './entities.js';
import type { CompiledPolicySet, PolicyMeta, Subset } from './policy-set.js';
import type { Obligation, Outcome, PolicyError, PrincipalRole, Reason } from './types.js';

export interface EvalInput {
  set: CompiledPolicySet;
  /** The preparsed policies that can apply to this principal, action and resource. */
  subset: Subset;
  role: PrincipalRole;
  principal: SlicedEntity;
  action: SlicedEntity;
  resource: SlicedEntity;
  context: Record<string, unknown>;
  /** An approval is on record: the forbids annotated @outcome("require_approval") are waived. */
  approved: boolean;
  /** `context.input` is unknown (a listing): Cedar partial evaluation decides. */
  unknownInput?: boolean;
}

/**
 * What is unknown while listing: the input, and the path facts derived from it (path-facts.ts),
 * each as Cedar's unknown value.
 */
export const UNKNOWN_INPUT_CONTEXT = Object.fromEntries(
  ['input', 'paths', 'pathsAllIn', 'pathsSomeIn'].map((k) => [
    k,
    { __extn: { fn: 'unknown', arg: k } },
  ]),
);

export interface Verdict {
  outcome: Outcome;
  reasons: Reason[];
  obligations: Obligation[];
  errors: PolicyError[];
}

interface CedarResult {
  allowed: boolean;
  determining: string[];
  errors: { policy: string; message: string }[];
}

/** The entities Cedar is given for one evaluation: the request's own and what they reference. */
export function slice(input: EvalInput): SlicedEntity[] {
  const out: SlicedEntity[] = [input.principal];
  // The slice is a handful of entities: a scan dedups them without building key strings.
  const add = (e: SlicedEntity) => {
    for (const x of out) if (x.uid.id === e.uid.id && x.uid.type === e.uid.type) return;
    out.push(e);
  };
  add(input.resource);
  // Only an action in a group needs its entity; plain actions need nothing from the store.
  if (input.action.parents.length > 0) add(input.action);
  const refs = input.set.store.referencedBy(out);
  if (refs.length <= 32) {
    for (const r of refs) add(r);
    return out;
  }
  const seen = new Set(out.map((e) => `${e.uid.type}\0${e.uid.id}`));
  for (const r of refs) {
    const k = `${r.uid.type}\0${r.uid.id}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/**
 * One authorization of the subset (or of its approval-waived variant): the compiled evaluator
 * when the subset compiled, else cedar-wasm. The compiled evaluator hands anything it does not
 * model exactly (and, failing closed, any internal error) to cedar-wasm, never answering itself.
 */
function authorize(
  input: EvalInput,
  waived: boolean,
  entities: SlicedEntity[],
): CedarResult | string {
  const { set, subset } = input;
  if (input.unknownInput) return partialCedar(input, waived, entities);
  const compiled = waived ? subset.compiledApproved : subset.compiled;
  if (compiled) {
    try {
      return authorizeCompiled(
        compiled,
        {
          principal: input.principal.uid,
          action: input.action.uid,
          resource: input.resource.uid,
          context: input.context,
          entities,
        },
        true,
      );
    } catch (e) {
      set.runtimeFallbacks++;
      if (!(e instanceof Unsupported)) set.lastInternalError = (e as Error).message;
    }
  }
  set.ensurePreparsed(subset);
  return callCedar(input, waived ? subset.approvedId! : subset.id, entities);
}

/**
 * Partial evaluation with `context.input` unknown. Allowed means "some input could be allowed":
 * Cedar's decision is allow, or it is left open by residuals on the input. Denied means Cedar
 * denies whatever the input: no permit can apply, or a forbid applies regardless of it.
 */
function partialCedar(
  input: EvalInput,
  waived: boolean,
  entities: SlicedEntity[],
): CedarResult | string {
  const staticPolicies: Record<string, string> = {};
  for (const p of input.subset.policies)
    if (!(waived && p.effect === 'forbid' && p.outcome === 'require_approval'))
      staticPolicies[p.id] = p.text;
  const answer = cedar.isAuthorizedPartial({
    principal: input.principal.uid,
    action: input.action.uid,
    resource: input.resource.uid,
    context: input.context as never,
    policies: { staticPolicies },
    entities: entities as never,
  });
  if (answer.type === 'failure') return answer.errors.map((e) => e.message).join('; ');
  const r = answer.response;
  const effect = (id: string) => input.set.policies.get(id)?.effect;
  const allowed = r.decision !== 'deny';
  // Deny: the forbids that hold whatever the input. Otherwise the permits that apply or may.
  const determining = allowed
    ? [...new Set([...r.satisfied, ...r.nontrivialResiduals])].filter(
        (id) => effect(id) === 'permit',
      )
    : r.satisfied.filter((id) => effect(id) === 'forbid');
  return {
    allowed,
    determining: determining.sort(),
    errors: [...r.errored]
      .sort()
      .map((policy) => ({ policy, message: 'evaluation error whatever the input is' })),
  };
}

function callCedar(
  input: EvalInput,
  setId: string,
  entities: SlicedEntity[],
): CedarResult | string {
  const answer = cedar.statefulIsAuthorized({
    principal: input.principal.uid,
    action: input.action.uid,
    resource: input.resource.uid,
    context: input.context as never,
    entities: entities as never,
    preparsedPolicySetId: setId,
  });
  if (answer.type === 'failure') return answer.errors.map((e) => e.message).join('; ');
  const d = answer.response.diagnostics;
  return {
    allowed: answer.response.decision === 'allow',
    // Cedar reports sets; sort so the same decision always reads the same.
    determining: [...d.reason].sort(),
    errors: d.errors
      .map((e) => ({ policy: e.policyId, message: e.error.message }))
      .sort((a, b) => (a.policy < b.policy ? -1 : 1)),
  };
}

const reasonOf = (p: PolicyMeta | undefined, id: string, role: PrincipalRole): Reason => ({
  policy: id,
  effect: p?.effect ?? 'forbid',
  annotations: p?.annotations ?? {},
  principal: role,
});

export function cordonReason(
  policy: string,
  role: PrincipalRole | undefined,
  message: string,
): Reason {
  const r: Reason = { policy: `cordon/${policy}`, effect: 'forbid', annotations: {}, message };
  if (role) r.principal = role;
  return r;
}

export function evaluate(input: EvalInput): Verdict {
  const { set, role } = input;
  const entities = slice(input);
  const r = authorize(input, input.approved && input.subset.approvedId !== undefined, entities);
  if (typeof r === 'string') {
    return {
      outcome: 'deny',
      reasons: [cordonReason('request-error', role, `Cedar rejected the request: ${r}`)],
      obligations: [],
      errors: [],
    };
  }
  const errors: PolicyError[] = r.errors.map((e) => ({
    policy: e.policy,
    principal: role,
    message: e.message,
  }));

  // Cordon's rule: a forbid that errors denies. Cedar would skip it and could fail open.
  const erroredForbids = r.errors.filter((e) => set.policies.get(e.policy)?.effect === 'forbid');
  if (erroredForbids.length > 0) {
    return {
      outcome: 'deny',
      reasons: erroredForbids.map((e) => ({
        ...reasonOf(set.policies.get(e.policy), e.policy, role),
        message: `forbid policy errored, so the request is denied: ${e.message}`,
      })),
      obligations: [],
      errors,
    };
  }

  const determining = r.determining.map((id) => set.policies.get(id));
  const reasons = r.determining.map((id, i) => reasonOf(determining[i], id, role));
  if (r.allowed) {
    // A determining permit may grant access on condition of redaction (`@redact`).
    const redactions = determining.flatMap((p) => (p ? (redactObligation(p) ?? []) : []));
    return { outcome: 'allow', reasons, obligations: redactions, errors };
  }
  if (reasons.length === 0) {
    const who = role === 'agent' ? 'agent' : 'on-behalf-of user';
    return {
      outcome: 'deny',
      reasons: [cordonReason('default-deny', role, `no permit policy applies to the ${who}`)],
      obligations: [],
      errors,
    };
  }

  const obligations: Obligation[] = [];
  for (const p of determining) {
    if (p?.outcome === 'restrict' || p?.outcome === 'isolate')
      obligations.push({ type: p.outcome, policy: p.id });
  }
  const onlyApprovalGates = determining.every((p) => p?.outcome === 'require_approval');
  if (onlyApprovalGates && !input.approved && input.subset.approvedId) {
    // An approval may only waive the gate: the request must be permitted once it is waived.
    const once = authorize(input, true, entities);
    const passes =
      typeof once !== 'string' &&
      once.allowed &&
      !once.errors.some((e) => set.policies.get(e.policy)?.effect === 'forbid');
    if (passes) return { outcome: 'require_approval', reasons, obligations, errors };
    reasons.push(
      cordonReason(
        'not-approvable',
        role,
        'approval would not help: no permit policy applies once the gate is waived',
      ),
    );
  }
  return { outcome: 'deny', reasons, obligations, errors };
}
