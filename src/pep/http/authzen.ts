// OpenID AuthZEN Authorization API 1.0: the request shapes (evaluation, evaluations, the three
// searches) and their mapping onto Cordon's ActionRequest. The subject is the acting agent (type
// Agent, the on-behalf-of user in properties.user) or a user (type User, the acting agent in
// properties.agent or, where the configuration names one, the default acting agent).
// properties.token carries a delegation token instead (or as well, when the ids agree).
// Other subject type names (an interop scenario's "identity") map to Agent or User only where
// the configuration says so: an unknown type is refused, never guessed.

import { z } from 'zod';
import { actionRequestSchema, formatIssues } from '../../core/request.js';
import type { ActionRequest, Decision } from '../../core/types.js';

const properties = z.record(z.string(), z.unknown());
const entity = z.object({
  type: z.string().min(1),
  id: z.string(),
  properties: properties.optional(),
});
const action = z.object({
  name: z.string().min(1),
  properties: properties.optional(),
});
const context = z.record(z.string(), z.unknown());

const evaluation = z.object({
  subject: entity,
  action,
  resource: entity,
  context: context.optional(),
});
const partialEvaluation = evaluation.partial();

/** Most evaluations one batch may carry: each is a decision and an audit record. */
export const MAX_EVALUATIONS = 256;

const semantics = z.enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit']);
const evaluations = partialEvaluation.extend({
  evaluations: z.array(partialEvaluation).max(MAX_EVALUATIONS).optional(),
  // Unknown options are ignored (the spec: receivers MUST ignore unknown fields).
  options: z.object({ evaluations_semantic: semantics.optional() }).passthrough().optional(),
});

export type AuthzenEvaluation = z.infer<typeof evaluation>;
export type EvaluationsSemantic = z.infer<typeof semantics>;

/** How AuthZEN subjects become Cordon principals (cordon.yaml `authzen`, docs/api.md). */
export interface AuthzenMapping {
  /**
   * The acting agent of a user subject that names none: the application asking (a PEP such
   * as a web backend deciding for its signed-in users). Policies must permit it as well.
   */
  agent?: string;
  /** Further subject type names and the principal kind each means (`identity: User`). */
  subjectTypes?: Record<string, 'Agent' | 'User'>;
}

/** A request the AuthZEN API cannot take: answered with a 400 and this message. */
export class AuthzenError extends Error {}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Which principal kind a subject type names, or undefined when it names none. */
export function subjectKind(type: string, mapping: AuthzenMapping): 'Agent' | 'User' | undefined {
  const configured = mapping.subjectTypes?.[type];
  if (configured) return configured;
  const t = type.toLowerCase();
  return t === 'agent' ? 'Agent' : t === 'user' ? 'User' : undefined;
}

/** The principal kind a subject type names; an AuthzenError when it names none. */
export function requireSubjectKind(type: string, mapping: AuthzenMapping): 'Agent' | 'User' {
  const kind = subjectKind(type, mapping);
  if (kind) return kind;
  const extra = Object.keys(mapping.subjectTypes ?? {});
  throw new AuthzenError(
    `subject.type must be Agent or User${extra.length ? ` (or ${extra.join(', ')})` : ''}, not "${type}"`,
  );
}

/** The agent and user a subject names (subject search fills in each candidate's id). */
export function principals(
  subject: z.infer<typeof entity>,
  mapping: AuthzenMapping,
): { agent?: string; user?: string; token?: string; session?: string } {
  const props = subject.properties ?? {};
  const kind = requireSubjectKind(subject.type, mapping);
  const token = str(props.token);
  const session = str(props.session);
  const extra = { ...(token ? { token } : {}), ...(session ? { session } : {}) };
  if (kind === 'Agent') {
    const user = str(props.user);
    return { agent: subject.id, ...(user ? { user } : {}), ...extra };
  }
  const agent = str(props.agent) ?? mapping.agent;
  if (!agent && !token)
    throw new AuthzenError(
      'subject of type User needs properties.agent: the agent acting for the user (or configure authzen.agent)',
    );
  return { ...(agent ? { agent } : {}), user: subject.id, ...extra };
}

export function toActionRequest(e: AuthzenEvaluation, mapping: AuthzenMapping = {}): ActionRequest {
  const { parents, ...attrs } = e.resource.properties ?? {};
  const candidate = {
    ...principals(e.subject, mapping),
    action: e.action.name,
    resource: {
      type: e.resource.type,
      id: e.resource.id,
      ...(Object.keys(attrs).length ? { attrs } : {}),
      ...(parents !== undefined ? { parents } : {}),
    },
    ...(e.context ? { context: e.context } : {}),
    pep: 'authzen',
  };
  const r = actionRequestSchema.safeParse(candidate);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  return r.data as ActionRequest;
}

export interface AuthzenDecision {
  decision: boolean;
  context: Record<string, unknown>;
}

export function toAuthzenResponse(d: Decision): AuthzenDecision {
  return {
    decision: d.decision === 'allow',
    context: {
      id: d.decisionId,
      outcome: d.decision,
      reasons: d.reasons,
      obligations: d.obligations,
      risk: d.risk,
      policyVersion: d.policyVersion,
      ...(d.ignored ? { ignored: d.ignored } : {}),
    },
  };
}

/** An evaluation that could not be decided: closed, with the error in its context (§ Errors). */
export function errorDecision(status: number, message: string): AuthzenDecision {
  return { decision: false, context: { error: { status, message } } };
}

export function parseEvaluation(body: unknown): AuthzenEvaluation {
  const r = evaluation.safeParse(body);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  return r.data;
}

/**
 * An Access Evaluations request. Each item inherits the top-level subject, action, resource and
 * context it does not set (an item's key replaces the default whole, it is not merged). Without
 * an `evaluations` array, or with an empty one, it is a single evaluation (`single`).
 */
export function parseEvaluations(body: unknown): {
  items: AuthzenEvaluation[];
  semantic: EvaluationsSemantic;
  single: boolean;
} {
  const r = evaluations.safeParse(body);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  const { evaluations: list, options, ...defaults } = r.data;
  const semantic = options?.evaluations_semantic ?? 'execute_all';
  if (!list || list.length === 0)
    return { items: [parseEvaluation(defaults)], semantic, single: true };
  const items = list.map((item, i) => {
    const merged = evaluation.safeParse({ ...defaults, ...item });
    if (!merged.success) throw new AuthzenError(`evaluations.${i}: ${formatIssues(merged.error)}`);
    return merged.data;
  });
  return { items, semantic, single: false };
}

/** Whether the batch stops after this answer under `semantic` (an error counts as a deny). */
export function shortCircuits(semantic: EvaluationsSemantic, d: AuthzenDecision): boolean {
  return (
    (semantic === 'deny_on_first_deny' && !d.decision) ||
    (semantic === 'permit_on_first_permit' && d.decision)
  );
}

// ---- Search APIs ----

const page = z.object({
  token: z.string().optional(),
  limit: z.number().int().nonnegative().optional(),
  properties: properties.optional(),
});
const typed = entity.extend({ id: z.string().optional() });

const subjectSearch = z.object({
  subject: typed,
  action,
  resource: entity,
  context: context.optional(),
  page: page.optional(),
});
const resourceSearch = z.object({
  subject: entity,
  action,
  resource: typed,
  context: context.optional(),
  page: page.optional(),
});
const actionSearch = z.object({
  subject: entity,
  resource: entity,
  context: context.optional(),
  page: page.optional(),
});

export type SearchKind = 'subject' | 'resource' | 'action';
export type SubjectSearch = z.infer<typeof subjectSearch>;
export type ResourceSearch = z.infer<typeof resourceSearch>;
export type ActionSearch = z.infer<typeof actionSearch>;
export type SearchRequest =
  | { kind: 'subject'; body: SubjectSearch }
  | { kind: 'resource'; body: ResourceSearch }
  | { kind: 'action'; body: ActionSearch };

const searchSchemas = { subject: subjectSearch, resource: resourceSearch, action: actionSearch };

export function parseSearch(kind: SearchKind, body: unknown): SearchRequest {
  const r = searchSchemas[kind].safeParse(body);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  return { kind, body: r.data } as SearchRequest;
}
