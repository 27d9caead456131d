// The AuthZEN Authorization API 1.0 HTTP binding (docs/api.md, "AuthZEN"): evaluation,
// evaluations (boxcarring with defaults and the three semantics), the subject, resource and
// action searches, and the PDP metadata at /.well-known/authzen-configuration. Decisions go
// through the decision service like /v1/decide's; a body the API cannot take is a 400 naming
// what is wrong. An X-Request-ID the PEP sends is echoed (the spec's MUST).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DecisionService } from '../../decision/service.js';
import type { ActionRequest } from '../../core/types.js';
import {
  AuthzenError,
  errorDecision,
  parseEvaluation,
  parseEvaluations,
  parseSearch,
  shortCircuits,
  toActionRequest,
  toAuthzenResponse,
  type AuthzenDecision,
  type AuthzenMapping,
  type SearchKind,
} from './authzen.js';
import { search, type SearchLimits } from './authzen-search.js';

export interface AuthzenOptions extends AuthzenMapping {
  /**
   * The PDP identifier (`https://pdp.example.com`) the metadata names and its endpoint URLs
   * start with. Without it, the URL the request came in on (scheme and Host) is used.
   */
  pdp?: string;
  search?: Partial<SearchLimits>;
}

export interface AuthzenRoutesOptions {
  decisions: DecisionService;
  options: AuthzenOptions;
  /**
   * The request as this caller may make it (its credential's identity and trust); throws
   * AuthzenError where the body contradicts the caller.
   */
  prepare: (req: FastifyRequest, r: ActionRequest) => ActionRequest;
}

export const AUTHZEN_PATHS = {
  access_evaluation_endpoint: '/access/v1/evaluation',
  access_evaluations_endpoint: '/access/v1/evaluations',
  search_subject_endpoint: '/access/v1/search/subject',
  search_resource_endpoint: '/access/v1/search/resource',
  search_action_endpoint: '/access/v1/search/action',
} as const;

/** An X-Request-ID worth echoing: visible ASCII, bounded (anything else is not repeated). */
const REQUEST_ID = /^[\x20-\x7e]{1,256}$/;

/** A client's error (mapping, validation, recordability) as a 400 message, else undefined. */
function clientError(e: unknown): string | undefined {
  if (e instanceof AuthzenError) return e.message;
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  if (e instanceof Error && status === 400) return e.message;
  return undefined;
}

export function registerAuthzenRoutes(app: FastifyInstance, o: AuthzenRoutesOptions): void {
  const { decisions, options, prepare } = o;
  const decision = { config: { auth: 'decision' as const } };
  const mapped = (req: FastifyRequest, e: Parameters<typeof toActionRequest>[0]) =>
    prepare(req, toActionRequest(e, options));

  app.addHook('onSend', async (req, reply) => {
    const id = req.headers['x-request-id'];
    if (typeof id === 'string' && REQUEST_ID.test(id)) void reply.header('x-request-id', id);
  });

  app.post(AUTHZEN_PATHS.access_evaluation_endpoint, decision, async (req, reply) => {
    let request: ActionRequest;
    try {
      request = mapped(req, parseEvaluation(req.body));
      return toAuthzenResponse(await decisions.decide(request));
    } catch (e) {
      const message = clientError(e);
      if (message !== undefined) return reply.code(400).send({ error: message });
      throw e;
    }
  });

  app.post(AUTHZEN_PATHS.access_evaluations_endpoint, decision, async (req, reply) => {
    let parsed: ReturnType<typeof parseEvaluations>;
    try {
      parsed = parseEvaluations(req.body);
    } catch (e) {
      if (e instanceof AuthzenError) return reply.code(400).send({ error: e.message });
      throw e;
    }
    // One evaluation's error is its own: closed, with the error in its context (spec § Errors).
    const one = async (i: number): Promise<AuthzenDecision> => {
      try {
        return toAuthzenResponse(await decisions.decide(mapped(req, parsed.items[i]!)));
      } catch (e) {
        const message = clientError(e);
        if (message === undefined) throw e;
        return errorDecision(400, parsed.single ? message : `evaluations.${i}: ${message}`);
      }
    };
    if (parsed.single) {
      const d = await one(0);
      const error = (d.context.error as { message?: string } | undefined)?.message;
      return error !== undefined ? reply.code(400).send({ error }) : d;
    }
    const out: AuthzenDecision[] = [];
    for (let i = 0; i < parsed.items.length; i++) {
      const d = await one(i);
      out.push(d);
      if (shortCircuits(parsed.semantic, d)) break;
    }
    return { evaluations: out };
  });

  for (const kind of ['subject', 'resource', 'action'] as const satisfies SearchKind[]) {
    app.post(`/access/v1/search/${kind}`, decision, async (req, reply) => {
      try {
        return await search(parseSearch(kind, req.body), {
          policies: () => decisions.engine.policies,
          mapping: options,
          decide: (r) => decisions.decideVisibility(prepare(req, r)),
          ...(options.search ? { limits: options.search } : {}),
        });
      } catch (e) {
        const message = clientError(e);
        if (message !== undefined) return reply.code(400).send({ error: message });
        throw e;
      }
    });
  }

  // Metadata is public (a PEP reads it before it has anything to authenticate with).
  app.get('/.well-known/authzen-configuration', { config: { auth: 'public' } }, async (req) => {
    const pdp = (options.pdp ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
    const doc: Record<string, string> = { policy_decision_point: pdp };
    for (const [k, path] of Object.entries(AUTHZEN_PATHS)) doc[k] = pdp + path;
    return doc;
  });
}
