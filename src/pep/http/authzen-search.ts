// AuthZEN 1.0 Search APIs over Cedar. Cedar answers yes/no for one request; it has no query
// that lists what a principal may reach. So a search enumerates candidates and decides each
// one through the decision service, like any evaluation, and returns those allowed:
//   subject search:  the entities of the principal type (Agent or User) in entities.json;
//   resource search: the entities of the resource type in entities.json, and those of that
//                    type a policy scope names (`resource == T::"x"`, `resource in T::"g"`);
//   action search:   the actions the schema declares, entities.json lists or a policy names.
// An entity known only to the PEP (passed in a request, never listed) cannot be found.
// Each candidate is a recorded visibility decision (it never opens an approval request).
// Candidates are taken in a stable order (by id), and a page stops after `scanPerPage` of
// them, so the cost of one request is bounded however few candidates are allowed; the opaque
// page token holds the position and a digest of the request it continues.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json.js';
import { scopeEntities } from '../../core/scope.js';
import type { CompiledPolicySet } from '../../core/policy-set.js';
import type { ActionRequest, Decision } from '../../core/types.js';
import {
  AuthzenError,
  requireSubjectKind,
  toActionRequest,
  type AuthzenEvaluation,
  type AuthzenMapping,
  type SearchRequest,
} from './authzen.js';

export interface SearchLimits {
  /** Results per page when the request gives no `page.limit`. */
  defaultLimit: number;
  /** Largest `page.limit` honoured (a larger one is lowered to it). */
  maxLimit: number;
  /** Candidates decided per request at most: a page may hold fewer results, with a token. */
  scanPerPage: number;
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = {
  defaultLimit: 50,
  maxLimit: 1000,
  scanPerPage: 2000,
};

export interface SearchDeps {
  policies: () => CompiledPolicySet;
  mapping: AuthzenMapping;
  /** Decides one candidate (the route applies the caller's identity and trust first). */
  decide: (r: ActionRequest) => Promise<Decision>;
  limits?: Partial<SearchLimits>;
}

type Result = { type: string; id: string } | { name: string };

export interface SearchResponse {
  page: { next_token: string; count: number };
  results: Result[];
}

const sorted = (ids: Iterable<string>) =>
  [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

function resourceCandidates(set: CompiledPolicySet, type: string): string[] {
  const ids = set.store.ofType(type).map((r) => r.id);
  for (const p of set.policies.values())
    for (const e of scopeEntities(p.json.resource)) if (e.type === type) ids.push(e.id);
  return sorted(ids);
}

/** The candidates in order, and how each becomes an evaluation and a result. */
function plan(
  req: SearchRequest,
  set: CompiledPolicySet,
  mapping: AuthzenMapping,
): {
  ids: string[];
  evaluation: (id: string) => AuthzenEvaluation;
  result: (id: string) => Result;
} {
  const { context } = req.body;
  const base = context ? { context } : {};
  switch (req.kind) {
    case 'subject': {
      const { subject, action, resource } = req.body;
      const kind = requireSubjectKind(subject.type, mapping);
      const ids = sorted(set.store.ofType(kind).map((r) => r.id));
      return {
        ids,
        evaluation: (id) => ({ ...base, subject: { ...subject, id }, action, resource }),
        result: (id) => ({ type: subject.type, id }),
      };
    }
    case 'resource': {
      const { subject, action, resource } = req.body;
      return {
        ids: resourceCandidates(set, resource.type),
        evaluation: (id) => ({ ...base, subject, action, resource: { ...resource, id } }),
        result: (id) => ({ type: resource.type, id }),
      };
    }
    case 'action': {
      const { subject, resource } = req.body;
      return {
        ids: sorted(set.actionNames()),
        evaluation: (name) => ({ ...base, subject, action: { name }, resource }),
        result: (name) => ({ name }),
      };
    }
  }
}

/** The request a token continues: everything but the token (the spec: all else identical). */
function digest(req: SearchRequest): string {
  const { page, ...rest } = req.body;
  const { token: _token, ...pageRest } = page ?? {};
  const text = canonicalJson({ kind: req.kind, ...rest, page: pageRest }) ?? '';
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

function readToken(token: string, expected: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new AuthzenError('page.token is not a token this PDP issued');
  }
  const t = parsed as { o?: unknown; h?: unknown };
  if (typeof t?.o !== 'number' || !Number.isInteger(t.o) || t.o < 0 || typeof t.h !== 'string')
    throw new AuthzenError('page.token is not a token this PDP issued');
  if (t.h !== expected)
    throw new AuthzenError(
      'page.token continues a different search: subject, action, resource, context and page.limit must stay as they were',
    );
  return t.o;
}

const makeToken = (offset: number, h: string) =>
  Buffer.from(JSON.stringify({ o: offset, h })).toString('base64url');

export async function search(req: SearchRequest, deps: SearchDeps): Promise<SearchResponse> {
  const limits = { ...DEFAULT_SEARCH_LIMITS, ...deps.limits };
  const set = deps.policies();
  const { ids, evaluation, result } = plan(req, set, deps.mapping);
  const h = digest(req);
  const token = req.body.page?.token;
  const start = token ? readToken(token, h) : 0;
  const limit = Math.min(req.body.page?.limit ?? limits.defaultLimit, limits.maxLimit);
  const results: Result[] = [];
  let i = start;
  // A mapping error is the request's (a 400), found on the first candidate or before any.
  for (let scanned = 0; i < ids.length && results.length < limit; i++, scanned++) {
    if (scanned === limits.scanPerPage) break;
    const id = ids[i]!;
    const d = await deps.decide(toActionRequest(evaluation(id), deps.mapping));
    if (d.decision === 'allow') results.push(result(id));
  }
  return {
    page: { next_token: i < ids.length ? makeToken(i, h) : '', count: results.length },
    results,
  };
}
