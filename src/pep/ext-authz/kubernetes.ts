// The Kubernetes API server's webhook authorizer (SubjectAccessReview, authorization.k8s.io/v1):
// the API server POSTs a review naming the user, groups and the request (resourceAttributes or
// nonResourceAttributes); the answer is the same object with status.allowed, and, for a Cordon
// deny, status.denied (final) unless onDeny is noOpinion. The mapping uses the same templates
// and patterns as the Envoy routes: a username pattern names the agent, rules map verb, group,
// resource and namespace to an action and a resource.

import type { ActionRequest } from '../../core/types.js';
import type { KubernetesConfig } from './config.js';
import {
  compilePathPattern,
  MalformedPath,
  render,
  splitPath,
  type PathPattern,
} from './template.js';

export class ReviewError extends Error {}

export interface SubjectAccessReview {
  apiVersion: string;
  kind: 'SubjectAccessReview';
  spec: {
    user?: string;
    groups?: string[];
    uid?: string;
    resourceAttributes?: Record<string, string>;
    nonResourceAttributes?: { path?: string; verb?: string };
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const stringsOnly = (o: Record<string, unknown>, where: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    // fieldSelector and labelSelector (1.31+) are objects; the rest are strings.
    if (typeof v === 'string') out[k] = v;
    else if (!isObject(v) && v !== undefined && v !== null)
      throw new ReviewError(`${where}.${k} is not a string`);
  }
  return out;
};

/** The review, checked: a ReviewError says what is wrong. */
export function parseReview(body: unknown): SubjectAccessReview {
  if (!isObject(body)) throw new ReviewError('the body is not a JSON object');
  if (body.kind !== 'SubjectAccessReview') throw new ReviewError('kind is not SubjectAccessReview');
  if (
    body.apiVersion !== 'authorization.k8s.io/v1' &&
    body.apiVersion !== 'authorization.k8s.io/v1beta1'
  )
    throw new ReviewError('apiVersion is not authorization.k8s.io/v1 (or v1beta1)');
  const spec = body.spec;
  if (!isObject(spec)) throw new ReviewError('spec is missing');
  if (spec.user !== undefined && typeof spec.user !== 'string')
    throw new ReviewError('spec.user is not a string');
  const groups = spec.groups ?? spec.group; // v1beta1 called it "group"
  if (
    groups !== undefined &&
    !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))
  )
    throw new ReviewError('spec.groups is not a list of strings');
  const ra = spec.resourceAttributes;
  const nra = spec.nonResourceAttributes;
  if (isObject(ra) === isObject(nra))
    throw new ReviewError(
      'give exactly one of spec.resourceAttributes or spec.nonResourceAttributes',
    );
  return {
    apiVersion: body.apiVersion,
    kind: 'SubjectAccessReview',
    spec: {
      ...(spec.user !== undefined ? { user: spec.user } : {}),
      ...(groups !== undefined ? { groups: groups as string[] } : {}),
      ...(typeof spec.uid === 'string' ? { uid: spec.uid } : {}),
      ...(isObject(ra) ? { resourceAttributes: stringsOnly(ra, 'spec.resourceAttributes') } : {}),
      ...(isObject(nra)
        ? { nonResourceAttributes: stringsOnly(nra, 'spec.nonResourceAttributes') }
        : {}),
    },
  };
}

export type MappedReview =
  | { kind: 'decide'; request: ActionRequest; identified: boolean }
  | { kind: 'refuse'; message: string };

export class KubernetesMapping {
  private readonly agentPattern?: RegExp;
  private readonly paths: (PathPattern | undefined)[];

  constructor(readonly config: KubernetesConfig) {
    if (config.agent) {
      // {name} matches what contains no ':' (the separator of service account usernames).
      const escaped = config.agent.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      const source = escaped.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) =>
        n === 'agent' ? '(?<agent>[^:]+)' : '[^:]+',
      );
      this.agentPattern = new RegExp(`^${source}$`);
    }
    this.paths = config.rules.map((r) =>
      r.match.path ? compilePathPattern(r.match.path) : undefined,
    );
  }

  /** The agent the username names; undefined when the pattern does not match. */
  agentOf(user: string | undefined): string | undefined {
    if (!user) return undefined;
    if (!this.agentPattern) return user;
    return this.agentPattern.exec(user)?.groups?.agent;
  }

  map(review: SubjectAccessReview): MappedReview {
    const { spec } = review;
    const ra = spec.resourceAttributes;
    const nra = spec.nonResourceAttributes;
    const vars = {
      verb: (ra?.verb ?? nra?.verb ?? '').toLowerCase(),
      group: ra?.group ?? '',
      version: ra?.version ?? '',
      resource: ra?.resource ?? '',
      subresource: ra?.subresource ?? '',
      namespace: ra?.namespace ?? '',
      name: ra?.name ?? '',
      path: nra?.path ?? '',
      user: spec.user ?? '',
    } satisfies Record<string, string>;
    if (!vars.verb) return { kind: 'refuse', message: 'the review names no verb' };
    let pathSegments: string[] | undefined;
    for (const [i, rule] of this.config.rules.entries()) {
      const m = rule.match;
      if (m.verb && !m.verb.includes(vars.verb)) continue;
      if (m.group && !(ra && m.group.includes(vars.group))) continue;
      if (m.resource && !(ra && m.resource.includes(vars.resource))) continue;
      if (m.subresource && !(ra && m.subresource.includes(vars.subresource))) continue;
      if (m.namespace && !(ra && m.namespace.includes(vars.namespace))) continue;
      let params: Record<string, string> = {};
      const pattern = this.paths[i];
      if (pattern) {
        if (!nra) continue;
        try {
          pathSegments ??= splitPath(vars.path);
        } catch (e) {
          if (e instanceof MalformedPath) return { kind: 'refuse', message: e.message };
          throw e;
        }
        const p = pattern.match(pathSegments);
        if (!p) continue;
        params = p;
      }
      const values = { ...params, ...vars };
      const agent = this.agentOf(spec.user);
      const kubernetes: Record<string, unknown> = {
        ...vars,
        groups: spec.groups ?? [],
        resourceRequest: !!ra,
      };
      const request: ActionRequest = {
        ...(agent ? { agent } : {}),
        action: render(rule.action, values),
        resource: {
          type: render(rule.resource.type, values),
          id: render(rule.resource.id, values),
        },
        context: { kubernetes },
        pep: 'ext_authz',
      };
      return { kind: 'decide', request, identified: !!agent };
    }
    return { kind: 'refuse', message: 'no rule in extAuthz.kubernetes.rules maps this review' };
  }
}

export interface ReviewStatus {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/** The review answered: the request object with its status. */
export function answer(
  review: SubjectAccessReview,
  status: ReviewStatus,
): SubjectAccessReview & { status: ReviewStatus } {
  return { ...review, status };
}
