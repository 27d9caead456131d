// Test helpers for the console API: a real app (example policies, a real audit log, the admin
// credential, an identity provider for people, console sessions) listening on loopback, and a
// browser-like client that signs in, keeps the cookie and sends the CSRF header and Origin.

import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { importPKCS8, SignJWT } from 'jose';
import { pino } from 'pino';
import { AuditLog } from '../audit/log.js';
import { Metrics } from '../decision/metrics.js';
import { DecisionService } from '../decision/service.js';
import { personVerifier } from '../identity/people.js';
import { buildApp, type AppOptions } from '../pep/http/app.js';
import { ConsoleSessions, type ConsoleSessionOptions } from '../pep/http/console/sessions.js';
import { testAuth } from './auth.js';
import { exampleEngine, tempDir } from './fixtures.js';

/** A key pair standing in for the organisation's identity provider, and tokens it signs. */
export async function testIdentityProvider(dir: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'idp.pem');
  await writeFile(keyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const key = await importPKCS8(
    privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    'EdDSA',
  );
  const issuer = { issuer: 'https://idp.example', audience: 'cordon', keyFile };
  const token = (sub: string, expires: string | number = '5m') =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(expires)
      .sign(key);
  return { issuer, token };
}

export interface ConsoleTestApp {
  app: FastifyInstance;
  base: string;
  audit: AuditLog;
  decisions: DecisionService;
  sessions: ConsoleSessions;
  admin: { authorization: string };
  /** An identity provider token for a user in the example entities. */
  idToken(user: string, expires?: string | number): Promise<string>;
  close(): Promise<void>;
}

export async function consoleApp(
  o: {
    sessions?: ConsoleSessionOptions;
    app?: Partial<AppOptions>;
    console?: Partial<NonNullable<AppOptions['console']>>;
  } = {},
): Promise<ConsoleTestApp> {
  const dir = await tempDir('cordon-console-');
  const idp = await testIdentityProvider(dir);
  const audit = await AuditLog.open(dir);
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const decisions = new DecisionService(await exampleEngine(), metrics, logger, audit);
  const people = await personVerifier(idp.issuer);
  const t = testAuth(undefined, { people });
  const sessions = new ConsoleSessions(o.sessions);
  const app = buildApp({
    decisions,
    metrics,
    logger,
    auth: t.auth,
    console: { sessions, uiDir: join(dir, 'no-ui'), ...o.console },
    ...o.app,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    app,
    base,
    audit,
    decisions,
    sessions,
    admin: t.admin,
    idToken: (user, expires) => idp.token(user, expires),
    async close() {
      await app.close();
      await audit.close();
    },
  };
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Leave out the session cookie. */
  noCookie?: boolean;
  /** Leave out the CSRF header. */
  noCsrf?: boolean;
  /** The Origin to send (default: the server's own); null for none. */
  origin?: string | null;
}

/** A browser signed in to the console: it sends the cookie, the CSRF token and its Origin. */
export class ConsoleBrowser {
  cookie = '';
  csrf = '';
  constructor(readonly base: string) {}

  async call(method: string, path: string, o: CallOptions = {}): Promise<Response> {
    const origin = o.origin === undefined ? this.base : o.origin;
    const res = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.cookie && !o.noCookie ? { cookie: this.cookie } : {}),
        ...(this.csrf && !o.noCsrf ? { 'x-cordon-csrf': this.csrf } : {}),
        ...(origin !== null ? { origin } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    return res;
  }

  /** Signs in with a sign-in token or an identity provider token; the answer. */
  async signIn(credential: { signInToken: string } | { idToken: string }): Promise<Response> {
    const res = await this.call('POST', '/v1/console/session', { body: credential });
    if (res.status === 201) this.csrf = ((await res.clone().json()) as { csrf: string }).csrf;
    return res;
  }
}
