// Signing in to the console and out again (docs/api.md "Console API"): an identity provider JWT
// or a one-time sign-in token becomes a server-side session behind an HttpOnly, SameSite=Strict
// cookie. Signing in is itself the Cedar decision `signIn` on ControlPlane::"console", recorded
// for the person, so policy says who may use the console at all.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { ADMIN_USER, controlPlane } from '../control.js';
import { AuthError, callerAuthenticator } from '../auth.js';
import { parsed, permitted, type ConsoleContext } from './common.js';
import { originProblem, type ConsoleCaller, type ConsoleSession } from './sessions.js';

const signInBody = z
  .strictObject({
    signInToken: z.string().min(1).max(200).optional(),
    idToken: z.string().min(1).max(16_384).optional(),
  })
  .refine(
    (b) => (b.signInToken === undefined) !== (b.idToken === undefined),
    'give either signInToken or idToken',
  );

const userOf = (caller: ConsoleCaller) => (caller.kind === 'admin' ? ADMIN_USER : caller.user);

function describeSession(c: ConsoleContext, s: ConsoleSession) {
  return {
    user: userOf(s.caller),
    admin: s.caller.kind === 'admin',
    csrf: s.csrf,
    expiresAt: new Date(s.expiresAt).toISOString(),
    idleTimeoutSeconds: Math.floor(c.sessions.idleMs / 1000),
  };
}

/** The person an identity provider token names, and when the token expires (ms). */
async function personOf(
  c: ConsoleContext,
  idToken: string,
): Promise<{ caller: ConsoleCaller; notAfter?: number }> {
  if (!c.people)
    throw new AuthError(401, 'no identity provider is configured for people (auth.issuer)');
  // Only the people verifier: the admin credential, PEP secrets and delegation tokens sign no one in.
  const caller = await callerAuthenticator({ people: c.people })(idToken);
  if (caller.kind !== 'person') throw new AuthError(401, 'not an identity provider token');
  const exp = decodeJwt(idToken).exp;
  return { caller, ...(typeof exp === 'number' ? { notAfter: exp * 1000 } : {}) };
}

export function registerSessionRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { sessions, decisions } = c;

  app.post('/v1/console/session', { config: { auth: 'self' } }, async (req, reply) => {
    // A sign-in form on another site must not sign the browser in (login CSRF).
    const problem = originProblem(req, false, sessions.publicOrigin);
    if (problem) return reply.code(403).send({ error: `sign-in refused: ${problem}` });
    const body = parsed(signInBody, req.body, reply);
    if (!body) return;
    let who: { caller: ConsoleCaller; notAfter?: number };
    try {
      if (body.signInToken !== undefined) {
        const caller = sessions.redeemSignInToken(body.signInToken);
        if (!caller)
          throw new AuthError(
            401,
            'the sign-in token is unknown, used or expired: ask for a new link',
          );
        who = { caller };
      } else who = await personOf(c, body.idToken!);
    } catch (e) {
      if (e instanceof AuthError) return reply.code(e.status).send({ error: e.message });
      throw e;
    }
    req.caller = who.caller;
    if (!(await permitted(decisions, req, reply, 'signIn', controlPlane('console')))) return;
    const { id, session } = sessions.create(who.caller, who.notAfter);
    sessions.setCookie(req, reply, id, session);
    return reply.code(201).send(describeSession(c, session));
  });

  const current = (req: FastifyRequest, reply: FastifyReply) => {
    const id = req.consoleSession;
    const session = id ? sessions.lookup(id) : undefined;
    if (!id || !session) {
      void reply
        .code(401)
        .send({ error: 'no console session: this route is for a signed-in browser' });
      return undefined;
    }
    return { id, session };
  };

  app.get('/v1/console/session', { config: { auth: 'control' } }, async (req, reply) => {
    const s = current(req, reply);
    if (!s) return;
    return describeSession(c, s.session);
  });

  app.delete('/v1/console/session', { config: { auth: 'control' } }, async (req, reply) => {
    const s = current(req, reply);
    if (!s) return;
    sessions.revoke(s.id);
    sessions.clearCookie(req, reply);
    return reply.code(204).send();
  });

  app.post('/v1/console/sign-in-tokens', { config: { auth: 'control' } }, async (req, reply) => {
    const { caller } = req;
    // A session must not mint its own successor: that would outlive its absolute expiry.
    if (req.consoleSession || (caller.kind !== 'admin' && caller.kind !== 'person'))
      return reply.code(403).send({
        error:
          'sign-in tokens are issued to the admin credential or a person’s identity provider token, sent as a bearer',
      });
    if (!(await permitted(decisions, req, reply, 'signIn', controlPlane('console')))) return;
    const { token, expiresAt } = sessions.mintSignInToken(caller);
    return reply.code(201).send({
      signInToken: token,
      url: `${sessions.publicOrigin ?? `${req.protocol}://${req.host}`}/ui/#signInToken=${token}`,
      expiresAt: new Date(expiresAt).toISOString(),
    });
  });
}
