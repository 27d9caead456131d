// From what Envoy knows about a request to an ActionRequest (docs/ext-authz.md, "Mapping"):
// who acts (a header, the peer's SPIFFE ID, a JWT payload jwt_authn verified, or a delegation
// token Cordon verifies), which route it is (method, path pattern, host → action and resource,
// path parameters into the resource id), and what goes into context.http. The gRPC and HTTP
// variants both describe the request as a CheckedHttp; nothing here knows either protocol.

import { decodeJwt } from 'jose';
import type { ActionRequest } from '../../core/types.js';
import { ISSUER as CORDON_ISSUER } from '../../identity/tokens.js';
import type { ExtAuthzConfig, IdentitySource } from './config.js';
import {
  compilePathPattern,
  compileTemplate,
  MalformedPath,
  splitPath,
  type CompiledTemplate,
  type PathPattern,
} from './template.js';

/** The request as Envoy describes it, in either variant. */
export interface CheckedHttp {
  method: string;
  /** The request target: path and query string, as Envoy sends it. */
  path: string;
  /** The :authority (Host), possibly with a port. */
  host: string;
  scheme?: string;
  /** Lower-cased names; repeated headers joined with ",". */
  headers: Record<string, string>;
  /**
   * The downstream peer's principal (its certificate's URI SAN) over gRPC, "" without mTLS;
   * undefined over HTTP, where x-forwarded-client-cert is read instead.
   */
  sourcePrincipal?: string;
  /** Dynamic metadata Envoy passed (metadata_context.filter_metadata), as plain JSON. */
  metadata?: Record<string, unknown>;
}

/** How the request maps: decide it, or refuse it without a decision. */
export type Mapped =
  | { kind: 'decide'; request: ActionRequest; identified: boolean }
  | { kind: 'refuse'; status: 400 | 403; message: string };

/**
 * Whether a bearer token claims to be a Cordon delegation token (issuer "cordon"; Cordon then
 * verifies it). Another JWT in the same header (an identity provider's, which jwt_authn
 * checked) or an opaque key is not: the next identity source is tried.
 */
function isDelegationToken(token: string): boolean {
  try {
    return decodeJwt(token).iss === CORDON_ISSUER;
  } catch {
    return false;
  }
}

function claimAt(payload: unknown, path: string): string | undefined {
  let v = payload;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The URI of the last element of an x-forwarded-client-cert header (Envoy's own hop; with
 * forward_client_cert_details SANITIZE_SET it is the only one).
 */
function xfccUri(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const elements = header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? [];
  const last = elements.at(-1) ?? '';
  for (const pair of last.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq).trim().toLowerCase() !== 'uri') continue;
    return pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

interface CompiledSpiffe {
  prefix: string;
  pattern?: PathPattern;
}

/** The agent a SPIFFE ID names, when it is of the trust domain (and matches the pattern). */
function agentOfSpiffe(id: string | undefined, s: CompiledSpiffe): string | undefined {
  if (!id?.startsWith(s.prefix)) return undefined;
  if (!s.pattern) return id;
  let segments: string[];
  try {
    segments = splitPath(id.slice(s.prefix.length - 1));
  } catch {
    return undefined;
  }
  return s.pattern.match(segments)?.agent || undefined;
}

export interface Identity {
  agent?: string;
  user?: string;
  token?: string;
}

type Resolver = (r: CheckedHttp) => Partial<Identity> | undefined;

function resolver(source: IdentitySource, role: 'agent' | 'user'): Resolver {
  if (source.header) {
    const name = source.header;
    return (r) => {
      const v = r.headers[name];
      return v ? { [role]: v } : undefined;
    };
  }
  if (source.bearer) {
    const name = source.bearer.header;
    return (r) => {
      const token = /^Bearer\s+(\S+)$/i.exec(r.headers[name] ?? '')?.[1];
      return token && isDelegationToken(token) ? { token } : undefined;
    };
  }
  if (source.jwt) {
    const { namespace, payloadKey, claim } = source.jwt;
    return (r) => {
      const ns = r.metadata?.[namespace];
      const payload =
        typeof ns === 'object' && ns !== null
          ? (ns as Record<string, unknown>)[payloadKey]
          : undefined;
      const v = claimAt(payload, claim);
      return v ? { [role]: v } : undefined;
    };
  }
  const s = source.spiffe!;
  const compiled: CompiledSpiffe = {
    prefix: `spiffe://${s.trustDomain}/`,
    ...(s.path ? { pattern: compilePathPattern(s.path) } : {}),
  };
  return (r) => {
    // The HTTP variant has no source.principal: Envoy's x-forwarded-client-cert stands in.
    const id =
      r.sourcePrincipal !== undefined
        ? r.sourcePrincipal
        : xfccUri(r.headers['x-forwarded-client-cert']);
    const agent = agentOfSpiffe(id, compiled);
    return agent ? { [role]: agent } : undefined;
  };
}

interface CompiledRoute {
  methods?: Set<string>;
  host?: { suffix: boolean; name: string; port: boolean };
  path: PathPattern;
  action: string;
  type: CompiledTemplate;
  id: CompiledTemplate;
}

function hostMatches(host: string, h: NonNullable<CompiledRoute['host']>): boolean {
  let name = host.toLowerCase();
  if (!h.port) name = name.replace(/:\d+$/, '');
  return h.suffix ? name.endsWith(h.name) && name.length > h.name.length : name === h.name;
}

/** Splits a request target into its path and query string. */
export function splitTarget(target: string): { path: string; query: string } {
  const noFragment = target.split('#', 1)[0]!;
  const q = noFragment.indexOf('?');
  return q < 0
    ? { path: noFragment, query: '' }
    : { path: noFragment.slice(0, q), query: noFragment.slice(q + 1) };
}

/** The query parameters; undefined when a name repeats (upstreams disagree on which counts). */
function queryRecord(query: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    if (Object.hasOwn(out, k)) return undefined;
    out[k] = v;
  }
  return out;
}

export class HttpMapping {
  private readonly agentSources: Resolver[];
  private readonly userSources: Resolver[];
  private readonly routes: CompiledRoute[];
  /** An agent may prove itself with a bearer token (a 401 then says WWW-Authenticate: Bearer). */
  readonly readsBearer: boolean;

  constructor(private readonly config: Pick<ExtAuthzConfig, 'identity' | 'routes' | 'context'>) {
    this.readsBearer = config.identity.agent.some((s) => s.bearer);
    this.agentSources = config.identity.agent.map((s) => resolver(s, 'agent'));
    this.userSources = config.identity.user.map((s) => resolver(s, 'user'));
    this.routes = config.routes.map((route) => {
      const m = route.match;
      const methods = m.method === undefined ? undefined : [m.method].flat();
      return {
        action: route.action,
        type: compileTemplate(route.resource.type),
        id: compileTemplate(route.resource.id),
        path: compilePathPattern(m.path),
        ...(methods ? { methods: new Set(methods) } : {}),
        ...(m.host
          ? {
              host: {
                suffix: m.host.startsWith('*.'),
                name: m.host.startsWith('*.') ? m.host.slice(1) : m.host,
                port: /:\d+$/.test(m.host),
              },
            }
          : {}),
      };
    });
  }

  /** Who acts: the first agent source that yields, and the first user source. */
  identity(r: CheckedHttp): Identity {
    const id: Identity = {};
    for (const s of this.agentSources) {
      const found = s(r);
      if (found) {
        Object.assign(id, found);
        break;
      }
    }
    for (const s of this.userSources) {
      const found = s(r);
      if (found?.user) {
        id.user = found.user;
        break;
      }
    }
    return id;
  }

  map(r: CheckedHttp): Mapped {
    const method = r.method.toUpperCase();
    const { path, query } = splitTarget(r.path);
    let segments: string[];
    try {
      segments = splitPath(path);
    } catch (e) {
      if (e instanceof MalformedPath) return { kind: 'refuse', status: 400, message: e.message };
      throw e;
    }
    let hit: { route: CompiledRoute; params: Record<string, string> } | undefined;
    for (const c of this.routes) {
      if (c.methods && !c.methods.has(method)) continue;
      if (c.host && !hostMatches(r.host, c.host)) continue;
      const params = c.path.match(segments);
      if (params) {
        hit = { route: c, params };
        break;
      }
    }
    if (!hit)
      return {
        kind: 'refuse',
        status: 403,
        message: `no route in extAuthz.routes maps ${method} ${path}`,
      };
    const http: Record<string, unknown> = { method, path, host: r.host };
    if (r.scheme) http.scheme = r.scheme;
    const wanted = this.config.context.headers;
    if (wanted.length > 0) {
      const headers: Record<string, string> = {};
      for (const h of wanted) if (r.headers[h] !== undefined) headers[h] = r.headers[h];
      http.headers = headers;
    }
    if (this.config.context.query) {
      const q = queryRecord(query);
      if (!q) return { kind: 'refuse', status: 400, message: 'a query parameter name is repeated' };
      http.query = q;
    }
    const values = hit.params;
    values.method = method;
    values.host = r.host;
    values.path = path;
    const id = this.identity(r);
    const sessionHeader = this.config.identity.session?.header;
    const session = sessionHeader ? r.headers[sessionHeader] : undefined;
    // Assigned, not spread: `...(cond ? {…} : {})` costs tens of µs per check on V8 here.
    const request: ActionRequest = {
      action: hit.route.action,
      resource: { type: hit.route.type(values), id: hit.route.id(values) },
      context: { http },
      pep: 'ext_authz',
    };
    if (id.agent) request.agent = id.agent;
    if (id.user) request.user = id.user;
    if (id.token) request.token = id.token;
    if (session) request.session = session;
    return { kind: 'decide', request, identified: !!(id.agent || id.token) };
  }
}
