// Console sessions (docs/api.md "Console API"): a browser cannot hold a bearer credential safely,
// so a person signs in once (identity provider JWT, or a one-time sign-in token) and gets an
// HttpOnly, SameSite=Strict cookie naming a session kept here, in memory. Sessions expire when
// idle and at an absolute limit, and are revocable at once. Requests the cookie authenticates
// that change something must also carry the session's CSRF token and the server's own Origin.
//
// Only hashes of session ids and sign-in tokens are kept: a heap dump reveals no usable cookie.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, type Caller } from '../auth.js';

/** A signed-in person, or the admin. */
export type ConsoleCaller = Extract<Caller, { kind: 'admin' } | { kind: 'person' }>;

export interface ConsoleSession {
  caller: ConsoleCaller;
  csrf: string;
  createdAt: number;
  lastSeen: number;
  /** The absolute end: the maximum lifetime, or the identity provider token's expiry. */
  expiresAt: number;
}

export interface ConsoleSessionOptions {
  /** A session unused this long ends (default 30 minutes). */
  idleMs?: number;
  /** A session ends this long after sign-in at the latest (default 8 hours). */
  maxMs?: number;
  /** A sign-in token is good for this long (default 10 minutes). */
  signInTokenMs?: number;
  /** Live sessions at most; the oldest is dropped for a new one (default 10,000). */
  maxSessions?: number;
  /** The URL browsers use when a TLS proxy is in front (config console.publicUrl). */
  publicUrl?: string;
  now?: () => number;
}

export const COOKIE = 'cordon_console';
/** The name on TLS: the `__Host-` prefix makes browsers refuse it without Secure, Path=/, no Domain. */
export const SECURE_COOKIE = `__Host-${COOKIE}`;
export const CSRF_HEADER = 'x-cordon-csrf';

const hash = (s: string) => createHash('sha256').update(s).digest('base64url');
const secret = () => randomBytes(32).toString('base64url');
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookies of a request, by name (RFC 6265 §5.4 Cookie header; the first of a name wins). */
export function cookiesOf(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** `http(s)://host[:port]` as the client addressed this server. */
export const ownOrigin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/**
 * Whether the Origin header names this server: as addressed, or its configured public URL.
 * `required`: a missing Origin fails too (every browser sends one on a non-GET fetch, so only
 * non-browser clients omit it, and they use bearers).
 */
export function originProblem(
  req: FastifyRequest,
  required: boolean,
  publicOrigin?: string,
): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return required ? 'the request has no Origin header' : undefined;
  if (origin !== ownOrigin(req) && origin !== publicOrigin)
    return `Origin ${origin} is not this server (${publicOrigin ?? ownOrigin(req)})`;
  return undefined;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly signInTokens = new Map<string, { caller: ConsoleCaller; expiresAt: number }>();
  readonly idleMs: number;
  readonly maxMs: number;
  readonly signInTokenMs: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  /** The configured public URL's origin, if any. */
  readonly publicOrigin: string | undefined;

  constructor(o: ConsoleSessionOptions = {}) {
    this.idleMs = o.idleMs ?? 30 * 60_000;
    this.maxMs = o.maxMs ?? 8 * 3_600_000;
    this.signInTokenMs = o.signInTokenMs ?? 10 * 60_000;
    this.maxSessions = o.maxSessions ?? 10_000;
    this.now = o.now ?? Date.now;
    this.publicOrigin = o.publicUrl ? new URL(o.publicUrl).origin : undefined;
  }

  /** Whether cookies must be Secure: a TLS connection, or an https public URL. */
  overTls(req: FastifyRequest): boolean {
    return req.protocol === 'https' || this.publicOrigin?.startsWith('https:') === true;
  }

  /** Opens a session for `caller`, ending no later than `notAfter` (ms) if given. */
  create(caller: ConsoleCaller, notAfter?: number): { id: string; session: ConsoleSession } {
    this.sweep();
    // Map order is insertion order: the first entry is the oldest session.
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const now = this.now();
    const id = secret();
    const session: ConsoleSession = {
      caller,
      csrf: secret(),
      createdAt: now,
      lastSeen: now,
      expiresAt: Math.min(now + this.maxMs, notAfter ?? Infinity),
    };
    this.sessions.set(hash(id), session);
    return { id, session };
  }

  /** The live session a cookie value names (and marks it used), or undefined. */
  lookup(id: string): ConsoleSession | undefined {
    const key = hash(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = this.now();
    if (now >= s.expiresAt || now - s.lastSeen >= this.idleMs) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeen = now;
    return s;
  }

  /** Whether a session is live, without counting this as use (a stream checking it is still on). */
  live(id: string): boolean {
    const s = this.sessions.get(hash(id));
    const now = this.now();
    return !!s && now < s.expiresAt && now - s.lastSeen < this.idleMs;
  }

  /** Ends a session at once; true if it was live. */
  revoke(id: string): boolean {
    return this.sessions.delete(hash(id));
  }

  /** Ends every session of a user (the admin's with `cordon-admin`); how many ended. */
  revokeUser(user: string): number {
    let n = 0;
    for (const [k, s] of this.sessions)
      if ((s.caller.kind === 'admin' ? 'cordon-admin' : s.caller.user) === user) {
        this.sessions.delete(k);
        n++;
      }
    return n;
  }

  get size(): number {
    this.sweep();
    return this.sessions.size;
  }

  /** A one-time token that signs in as `caller` (the link `cordon serve` prints). */
  mintSignInToken(caller: ConsoleCaller): { token: string; expiresAt: number } {
    this.sweep();
    const token = `cst_${secret()}`;
    const expiresAt = this.now() + this.signInTokenMs;
    this.signInTokens.set(hash(token), { caller, expiresAt });
    return { token, expiresAt };
  }

  /** Uses up a sign-in token: whom it signs in as, or undefined (unknown, used or expired). */
  redeemSignInToken(token: string): ConsoleCaller | undefined {
    const key = hash(token);
    const t = this.signInTokens.get(key);
    if (!t) return undefined;
    this.signInTokens.delete(key);
    return this.now() < t.expiresAt ? t.caller : undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, s] of this.sessions)
      if (now >= s.expiresAt || now - s.lastSeen >= this.idleMs) this.sessions.delete(k);
    for (const [k, t] of this.signInTokens) if (now >= t.expiresAt) this.signInTokens.delete(k);
  }

  /** The session cookie's value on this request (the name depends on TLS), if any. */
  cookieOf(req: FastifyRequest): string | undefined {
    return cookiesOf(req.headers.cookie).get(this.overTls(req) ? SECURE_COOKIE : COOKIE);
  }

  /**
   * The caller a request's session cookie proves, undefined without a cookie, or an AuthError:
   * 401 for an unknown or expired session, 403 for a state-changing request without the
   * session's CSRF token or from another origin.
   */
  authenticate(req: FastifyRequest): { caller: ConsoleCaller; id: string } | undefined {
    const id = this.cookieOf(req);
    if (id === undefined) return undefined;
    const s = this.lookup(id);
    if (!s)
      throw new AuthError(401, 'the console session has expired or was signed out: sign in again');
    if (!SAFE_METHODS.has(req.method)) {
      const token = req.headers[CSRF_HEADER];
      if (typeof token !== 'string' || !sameSecret(token, s.csrf))
        throw new AuthError(
          403,
          `CSRF check failed: a console request that changes something must carry the session's ${CSRF_HEADER} header`,
        );
      const problem = originProblem(req, true, this.publicOrigin);
      if (problem) throw new AuthError(403, `CSRF check failed: ${problem}`);
    }
    return { caller: s.caller, id };
  }

  /** Sets the session cookie on a reply. */
  setCookie(req: FastifyRequest, reply: FastifyReply, id: string, session: ConsoleSession): void {
    const maxAge = Math.max(0, Math.floor((session.expiresAt - this.now()) / 1000));
    const tls = this.overTls(req);
    void reply.header(
      'set-cookie',
      `${tls ? SECURE_COOKIE : COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${tls ? '; Secure' : ''}`,
    );
  }

  /** Clears the session cookie on a reply. */
  clearCookie(req: FastifyRequest, reply: FastifyReply): void {
    const tls = this.overTls(req);
    void reply.header(
      'set-cookie',
      `${tls ? SECURE_COOKIE : COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${tls ? '; Secure' : ''}`,
    );
  }
}
