// The `extAuthz` section of cordon.yaml (docs/ext-authz.md): where Envoy's external
// authorization (gRPC and HTTP) and the Kubernetes webhook authorizer listen, and the mapping
// from what they send (method, path, host, headers, the peer's SPIFFE ID, a JWT payload, a
// SubjectAccessReview) to an ActionRequest. Templates and patterns are checked here, so a typo
// in a route stops `cordon serve` with the route's path in the message, not a deny at run time.

import { z } from 'zod';
import { PatternError, compilePathPattern, templateNames } from './template.js';

/** `host:port`, `[v6]:port` or `:port` (loopback). Kept as text: the config is parsed twice. */
const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/;

const listenSchema = z
  .string()
  .regex(LISTEN, 'host:port, [ipv6]:port or :port')
  .refine((s) => Number(LISTEN.exec(s)?.[2]) <= 65535, 'a port is at most 65535');

/** The host and port of a checked `listen` value. */
export function parseListen(s: string): { host: string; port: number } {
  const m = LISTEN.exec(s);
  if (!m) throw new Error(`not host:port: ${s}`);
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
}

const tlsSchema = z.strictObject({
  /** PEM certificate chain and private key files of the listener. */
  cert: z.string().min(1),
  key: z.string().min(1),
});

const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name')
  .transform((h) => h.toLowerCase());

/** A dotted claim path into a JWT payload ("sub", "act.sub"). */
const claimPath = z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a claim name, dots for nesting');

const spiffeSchema = z.strictObject({
  /** Only SPIFFE IDs of this trust domain are believed. */
  trustDomain: z.string().regex(/^[a-z0-9._-]+$/, 'a SPIFFE trust domain (lower case)'),
  /** A pattern for the ID's path naming `{agent}` (/ns/{ns}/sa/{agent}); absent: the whole ID. */
  path: z.string().startsWith('/').optional(),
});

const jwtSchema = z.strictObject({
  /** jwt_authn's `payload_in_metadata` key. */
  payloadKey: z.string().min(1),
  claim: claimPath.default('sub'),
  /** The dynamic metadata namespace (ext_authz `metadata_context_namespaces` must list it). */
  namespace: z.string().min(1).default('envoy.filters.http.jwt_authn'),
});

/** Where an identity comes from: exactly one key. */
const sourceSchema = z
  .strictObject({
    /** A header Envoy sets (and strips from clients): its value is the id. */
    header: headerName.optional(),
    /** The peer certificate's SPIFFE ID (source.principal; over HTTP, x-forwarded-client-cert). */
    spiffe: spiffeSchema.optional(),
    /** A claim of the JWT payload Envoy's jwt_authn filter verified and put in metadata. */
    jwt: jwtSchema.optional(),
    /** A Cordon delegation token (Authorization: Bearer …), verified by Cordon: agent and user. */
    bearer: z.strictObject({ header: headerName.default('authorization') }).optional(),
  })
  .refine(
    (s) => [s.header, s.spiffe, s.jwt, s.bearer].filter((v) => v !== undefined).length === 1,
    'give exactly one of header, spiffe, jwt or bearer',
  )
  .superRefine((s, ctx) => {
    const problem = s.spiffe?.path ? checkPattern(s.spiffe.path, ['agent']) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: ['spiffe', 'path'], message: problem });
  });

export type IdentitySource = z.infer<typeof sourceSchema>;

const methodSchema = z
  .string()
  .regex(/^[A-Za-z]+$/, 'an HTTP method')
  .transform((m) => m.toUpperCase());

/** The variables every HTTP template may use besides the path's. */
const HTTP_VARS = ['method', 'host', 'path'];

/** A pattern's problem (a PatternError's message), or undefined when it compiles. */
function checkPattern(pattern: string, required: string[] = []): string | undefined {
  try {
    const p = compilePathPattern(pattern);
    const missing = required.filter((n) => !p.names.includes(n));
    return missing.length ? `the pattern names no {${missing.join('}, {')}}` : undefined;
  } catch (e) {
    if (e instanceof PatternError) return e.message;
    throw e;
  }
}

function unknownVars(template: string, known: string[]): string | undefined {
  try {
    const unknown = templateNames(template).filter((n) => !known.includes(n));
    return unknown.length
      ? `{${unknown.join('}, {')}} is not a path parameter nor one of {${HTTP_VARS.join('}, {')}}`
      : undefined;
  } catch (e) {
    if (e instanceof PatternError) return e.message;
    throw e;
  }
}

const resourceTemplate = z.strictObject({
  type: z.string().min(1),
  /** A template: {name} is a path parameter (or method, host, path). */
  id: z.string(),
});

const routeSchema = z
  .strictObject({
    match: z.strictObject({
      /** One method or several; absent: any. */
      method: z.union([methodSchema, z.array(methodSchema).min(1)]).optional(),
      /** Whole segments: literal, {name} (one segment) or {name*} (the rest, last only). */
      path: z.string().startsWith('/'),
      /** The request's host (port ignored unless given); `*.example.com` for subdomains. */
      host: z
        .string()
        .regex(/^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/, 'a host name, or *.domain')
        .transform((h) => h.toLowerCase())
        .optional(),
    }),
    action: z.string().min(1).max(256),
    resource: resourceTemplate,
  })
  .superRefine((r, ctx) => {
    const problem = checkPattern(r.match.path);
    if (problem) {
      ctx.addIssue({ code: 'custom', path: ['match', 'path'], message: problem });
      return;
    }
    const names = [...compilePathPattern(r.match.path).names, ...HTTP_VARS];
    for (const [key, template] of [
      ['id', r.resource.id],
      ['type', r.resource.type],
    ] as const) {
      const bad = unknownVars(template, names);
      if (bad) ctx.addIssue({ code: 'custom', path: ['resource', key], message: bad });
    }
  });

export type RouteConfig = z.infer<typeof routeSchema>;

/** The SubjectAccessReview fields a Kubernetes rule may match and its templates may name. */
export const K8S_VARS = [
  'verb',
  'group',
  'version',
  'resource',
  'subresource',
  'namespace',
  'name',
  'path',
  'user',
] as const;

const k8sRuleSchema = z
  .strictObject({
    /** Each a list of accepted values ("" is the core API group); absent: any. */
    match: z
      .strictObject({
        verb: z.array(z.string()).min(1).optional(),
        group: z.array(z.string()).min(1).optional(),
        resource: z.array(z.string()).min(1).optional(),
        subresource: z.array(z.string()).min(1).optional(),
        namespace: z.array(z.string()).min(1).optional(),
        /** A non-resource request's path (/healthz, /version): a path pattern. */
        path: z.string().startsWith('/').optional(),
      })
      .default({}),
    action: z.string().min(1).max(256),
    resource: resourceTemplate,
  })
  .superRefine((r, ctx) => {
    const pathProblem = r.match.path !== undefined ? checkPattern(r.match.path) : undefined;
    if (pathProblem)
      ctx.addIssue({ code: 'custom', path: ['match', 'path'], message: pathProblem });
    const names = [
      ...K8S_VARS,
      ...(r.match.path && !pathProblem ? compilePathPattern(r.match.path).names : []),
    ];
    for (const [key, template] of [
      ['action', r.action],
      ['id', r.resource.id],
      ['type', r.resource.type],
    ] as const) {
      let bad: string | undefined;
      try {
        const unknown = templateNames(template).filter((n) => !names.includes(n));
        if (unknown.length)
          bad = `{${unknown.join('}, {')}} is not one of {${K8S_VARS.join('}, {')}}`;
      } catch (e) {
        bad = (e as Error).message;
      }
      if (bad)
        ctx.addIssue({
          code: 'custom',
          path: key === 'action' ? ['action'] : ['resource', key],
          message: bad,
        });
    }
  });

export type K8sRuleConfig = z.infer<typeof k8sRuleSchema>;

const DEFAULT_K8S_RULES: z.input<typeof k8sRuleSchema>[] = [
  {
    action: 'k8s:{verb}',
    resource: { type: 'KubernetesResource', id: '{namespace}/{group}/{resource}/{name}' },
  },
];

const kubernetesSchema = z.strictObject({
  /** Where the API server POSTs SubjectAccessReviews, on the HTTP listener. */
  path: z.string().startsWith('/').default('/kubernetes/authorize'),
  /**
   * The agent from the username: a pattern naming {agent}
   * (system:serviceaccount:{namespace}:{agent}); absent: the username is the agent id.
   */
  agent: z
    .string()
    .min(1)
    .refine((p) => p.includes('{agent}'), 'the pattern must name {agent}')
    .optional(),
  /** First match wins; a review no rule matches is denied. */
  rules: z.array(k8sRuleSchema).prefault(DEFAULT_K8S_RULES),
  /**
   * deny: a Cordon deny is final (status.denied: true); noOpinion: other authorizers in the
   * API server's chain may still allow (status.allowed: false only).
   */
  onDeny: z.enum(['deny', 'noOpinion']).default('deny'),
});

export type KubernetesConfig = z.infer<typeof kubernetesSchema>;

export const extAuthzConfigSchema = z
  .strictObject({
    /** envoy.service.auth.v3.Authorization over gRPC (Envoy's grpc_service). */
    grpc: z.strictObject({ listen: listenSchema, tls: tlsSchema.optional() }).optional(),
    /** Envoy's http_service, and the Kubernetes webhook when `kubernetes` is set. */
    http: z
      .strictObject({
        listen: listenSchema,
        tls: tlsSchema.optional(),
        /** http_service.path_prefix: what Envoy puts before the original path. */
        pathPrefix: z
          .string()
          .regex(/^(\/[^/?#\s]+)*$/, 'empty, or /segments without a trailing slash')
          .default(''),
        /** Bytes of a forwarded request body read (and ignored) at most. */
        bodyLimit: z
          .number()
          .int()
          .positive()
          .default(64 * 1024),
      })
      .optional(),
    /** Who acts: each list is tried in order, the first source that yields wins. */
    identity: z
      .strictObject({
        agent: z
          .array(sourceSchema)
          .min(1)
          .default([{ bearer: { header: 'authorization' } }]),
        user: z
          .array(sourceSchema)
          .default([])
          .refine((l) => l.every((s) => !s.bearer), 'a bearer token names the user itself'),
        /** A header naming the session (context.session follows it). */
        session: z.strictObject({ header: headerName }).optional(),
      })
      .default({ agent: [{ bearer: { header: 'authorization' } }], user: [] }),
    /** First match wins; a request no route matches is denied (403). */
    routes: z.array(routeSchema).default([]),
    /** What of the request goes into context.http besides method, path and host. */
    context: z
      .strictObject({
        /** Request headers copied into context.http.headers (lower-cased names). */
        headers: z.array(headerName).default([]),
        /** Put the query parameters in context.http.query (a repeated name is then denied). */
        query: z.boolean().default(false),
      })
      .default({ headers: [], query: false }),
    /** The Kubernetes API server's webhook authorizer (SubjectAccessReview v1). */
    kubernetes: kubernetesSchema.optional(),
  })
  .refine((c) => c.grpc || c.http, 'give grpc.listen, http.listen or both')
  .refine((c) => !c.kubernetes || c.http, 'kubernetes is served on the http listener: give http');

export type ExtAuthzConfig = z.infer<typeof extAuthzConfigSchema>;
