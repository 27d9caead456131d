// Who is calling the HTTP API (DESIGN §3 "Who may call"). Every route declares its class where
// it is registered (`config: { auth }`); a route without one stops the server from starting,
// and a request that reaches one anyway is refused. The hook runs before the body is read and
// leaves `req.caller` for the handlers:
//
//   public    anyone (the JWKS, the liveness probe): nothing secret
//   decision  /v1/decide, AuthZEN, metrics: a bearer is optional on a loopback listener
//             (unless `auth.required`), required on any other
//   control   approvals, revocation, isolation, audit reads, reloads, the console API: always an
//             authenticated person, admin or agent (a bearer, or a console session cookie with
//             its CSRF checks); what they may do is then a Cedar decision (control.ts)
//   self      the route checks a credential of its own protocol (token exchange's subject
//             token, the LLM gateway's keys and tokens)

import { decodeJwt } from 'jose';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { LOCAL_ADMIN } from '../../core/stages/identity.js';
import type { Secret } from '../../identity/credentials.js';
import type { PersonVerifier } from '../../identity/people.js';
import type { TokenService } from '../../identity/tokens.js';
import { bearerOf } from '../mcp/bearer.js';
import type { ConsoleSessions } from './console/sessions.js';

export type RouteClass = 'public' | 'decision' | 'control' | 'self';

export type Caller =
  /** The holder of the local admin credential (or another configured admin secret). */
  | { kind: 'admin' }
  /** A person, vouched for by the identity provider's JWT. */
  | { kind: 'person'; user: string }
  /** An agent, by its delegation token: it acts as the token's agent for the token's user. */
  | { kind: 'agent'; token: string; agent: string; user: string }
  /** An enforcement point in another process, by its configured credential. */
  | { kind: 'pep'; name: string }
  /** No credential, on a loopback listener (decision routes only). */
  | { kind: 'anonymous-loopback' }
  /** No credential checked: public routes, and routes that check their own. */
  | { kind: 'anonymous' };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteClass;
  }
  interface FastifyRequest {
    caller: Caller;
    /** The console session cookie that authenticated the request, when one did. */
    consoleSession?: string;
  }
}

export interface AuthOptions {
  /** Secrets that make the caller the admin (the local admin credential). */
  admin?: Secret[];
  /** Enforcement points by name. */
  peps?: { name: string; secret: Secret }[];
  /** Verifies delegation tokens (agents). */
  tokens?: TokenService;
  /** Verifies the identity provider's JWTs (people). */
  people?: PersonVerifier;
  /** Decision routes require a credential on loopback listeners too. */
  required?: boolean;
  /** Console sessions: a browser's cookie authenticates control routes (console/sessions.ts). */
  console?: ConsoleSessions;
}

export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const CORDON_ISSUER = 'cordon';

/** The caller a bearer credential proves, or an AuthError(401) saying why it proves nothing. */
export function callerAuthenticator(o: AuthOptions): (bearer: string) => Promise<Caller> {
  return async (bearer) => {
    // Every secret is compared, so the time taken does not say which one nearly matched.
    const admin = (o.admin ?? []).map((s) => s.matches(bearer)).includes(true);
    const pep = (o.peps ?? []).filter((p) => p.secret.matches(bearer));
    if (admin) return { kind: 'admin' };
    if (pep[0]) return { kind: 'pep', name: pep[0].name };
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(bearer).iss;
    } catch {
      throw new AuthError(401, 'the bearer credential is not one this server knows');
    }
    if (issuer === CORDON_ISSUER) {
      if (!o.tokens) throw new AuthError(401, 'this server verifies no delegation tokens');
      try {
        const v = await o.tokens.verify(bearer);
        return { kind: 'agent', token: bearer, agent: v.agent, user: v.user };
      } catch (e) {
        throw new AuthError(401, `delegation token rejected: ${(e as Error).message}`);
      }
    }
    if (!o.people)
      throw new AuthError(401, 'no identity provider is configured for people (auth.issuer)');
    let user: string;
    try {
      user = await o.people(bearer);
    } catch (e) {
      throw new AuthError(401, (e as Error).message);
    }
    // Only the admin credential is the local admin: a person of that name would become it.
    if (user === LOCAL_ADMIN.id)
      throw new AuthError(401, `user "${user}" is reserved for the local admin credential`);
    return { kind: 'person', user };
  };
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

/** Whether the server this request came in on listens on a loopback address only. */
export function onLoopbackListener(req: FastifyRequest): boolean {
  const a = req.server.server.address();
  return typeof a === 'object' && a !== null && isLoopback(a.address);
}

const refuse = (reply: FastifyReply, e: AuthError) => {
  if (e.status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(e.status).send({ error: e.message });
};

/**
 * Installs the authentication hook on `app` (call it before registering routes). Routes must
 * declare their class: `app.get(url, { config: { auth: 'control' } }, handler)`. A route
 * group may declare one class for its routes with `declareRouteClass`.
 */
export function installAuth(app: FastifyInstance, o: AuthOptions): void {
  const authenticate = callerAuthenticator(o);
  const unclassified: string[] = [];
  app.decorateRequest('caller', null as never);
  app.addHook('onRoute', (route: RouteOptions) => {
    // Checked once all plugins have added their routes (a group may declare its class later).
    const where = `${String(route.method)} ${route.url}`;
    queueMicrotask(() => {
      if (!(route.config as { auth?: RouteClass } | undefined)?.auth) unclassified.push(where);
    });
  });
  app.addHook('onReady', async () => {
    if (unclassified.length > 0)
      throw new Error(`routes without an authentication class: ${unclassified.join(', ')}`);
  });
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url === undefined) {
      req.caller = { kind: 'anonymous' }; // no such route: the not-found handler answers
      return;
    }
    const cls = req.routeOptions.config.auth;
    if (cls === 'public' || cls === 'self') {
      req.caller = { kind: 'anonymous' };
      return;
    }
    if (cls !== 'decision' && cls !== 'control')
      return refuse(reply, new AuthError(401, 'this route declares no authentication class'));
    const bearer = bearerOf(req.headers.authorization);
    if (bearer === undefined && cls === 'control' && o.console) {
      try {
        const session = o.console.authenticate(req);
        if (session) {
          req.caller = session.caller;
          req.consoleSession = session.id;
          return;
        }
      } catch (e) {
        if (e instanceof AuthError) return refuse(reply, e);
        throw e;
      }
    }
    if (bearer === undefined) {
      if (cls === 'decision' && !o.required && onLoopbackListener(req)) {
        req.caller = { kind: 'anonymous-loopback' };
        return;
      }
      return refuse(
        reply,
        new AuthError(
          401,
          cls === 'control'
            ? 'authentication required: send Authorization: Bearer <admin credential, identity provider token or delegation token>'
            : 'authentication required on this listener: send Authorization: Bearer <delegation token or PEP credential>',
        ),
      );
    }
    try {
      req.caller = await authenticate(bearer);
    } catch (e) {
      if (e instanceof AuthError) return refuse(reply, e);
      throw e;
    }
    if (cls === 'control' && req.caller.kind === 'pep')
      return refuse(
        reply,
        new AuthError(403, 'a PEP credential is for decision routes, not the control plane'),
      );
    if (cls === 'decision' && req.caller.kind === 'person')
      return refuse(
        reply,
        new AuthError(
          403,
          "people do not ask for decisions: an enforcement point does, with its own or the agent's credential",
        ),
      );
  });
}

/** Gives every route registered in `scope` (a plugin's scope) the class `cls`. */
export function declareRouteClass(scope: FastifyInstance, cls: RouteClass): void {
  scope.addHook('onRoute', (route: RouteOptions) => {
    route.config = { ...(route.config as object), auth: cls } as RouteOptions['config'];
  });
}
