// OpenID AuthZEN Authorization API 1.0: the evaluation and evaluations endpoints, mapped onto
// Cordon's ActionRequest. The subject is the acting agent (type Agent, the on-behalf-of user
// in properties.user) or the user (type User, the acting agent in properties.agent).
// properties.token carries a delegation token instead (or as well, when the ids agree).

import { z } from 'zod';
import { actionRequestSchema, formatIssues } from '../../core/request.js';
import type { ActionRequest, Decision } from '../../core/types.js';

const entity = z.object({
  type: z.string().min(1),
  id: z.string(),
  properties: z.record(z.string(), z.unknown()).optional(),
});
const action = z.object({
  name: z.string().min(1),
  properties: z.record(z.string(), z.unknown()).optional(),
});
const context = z.record(z.string(), z.unknown());

const evaluation = z.object({
  subject: entity,
  action,
  resource: entity,
  context: context.optional(),
});
const partialEvaluation = evaluation.partial();

const semantics = z.enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit']);
const evaluations = partialEvaluation.extend({
  evaluations: z.array(partialEvaluation).min(1).max(256),
  options: z.object({ evaluations_semantic: semantics.optional() }).passthrough().optional(),
});

export type AuthzenEvaluation = z.infer<typeof evaluation>;

export class AuthzenError extends Error {}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function toActionRequest(e: AuthzenEvaluation): ActionRequest {
  const props = e.subject.properties ?? {};
  const subjectType = e.subject.type.toLowerCase();
  let agent: string | undefined;
  let user: string | undefined;
  if (subjectType === 'agent') {
    agent = e.subject.id;
    user = str(props.user);
  } else if (subjectType === 'user') {
    user = e.subject.id;
    agent = str(props.agent);
    if (!agent && !str(props.token))
      throw new AuthzenError(
        'subject of type User needs properties.agent: the agent acting for the user',
      );
  } else {
    throw new AuthzenError(`subject.type must be Agent or User, not "${e.subject.type}"`);
  }
  const { parents, ...attrs } = e.resource.properties ?? {};
  // A delegation token in the subject's properties: it must agree with the subject's ids.
  const token = str(props.token);
  const candidate = {
    ...(agent ? { agent } : {}),
    ...(user ? { user } : {}),
    ...(token ? { token } : {}),
    ...(str(props.session) ? { session: str(props.session) } : {}),
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

export function toAuthzenResponse(d: Decision) {
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

export function parseEvaluation(body: unknown): AuthzenEvaluation {
  const r = evaluation.safeParse(body);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  return r.data;
}

/** Each item inherits the top-level subject/action/resource/context it does not set. */
export function parseEvaluations(body: unknown): {
  items: AuthzenEvaluation[];
  semantic: z.infer<typeof semantics>;
} {
  const r = evaluations.safeParse(body);
  if (!r.success) throw new AuthzenError(formatIssues(r.error));
  const { evaluations: list, options, ...defaults } = r.data;
  const items = list.map((item, i) => {
    const merged = evaluation.safeParse({ ...defaults, ...item });
    if (!merged.success) throw new AuthzenError(`evaluations[${i}]: ${formatIssues(merged.error)}`);
    return merged.data;
  });
  return { items, semantic: options?.evaluations_semantic ?? 'execute_all' };
}
