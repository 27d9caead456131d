import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser, consoleApp, type ConsoleTestApp } from '../../../testing/console.js';
import { ConsoleSessions } from './sessions.js';

let t: ConsoleTestApp;
before(async () => {
  t = await consoleApp({ app: { reload: async () => {} } });
});
after(async () => t.close());

/** A one-time sign-in token for the admin, as `cordon serve` prints one. */
async function adminSignInToken(): Promise<string> {
  const res = await fetch(`${t.base}/v1/console/sign-in-tokens`, {
    method: 'POST',
    headers: t.admin,
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as { signInToken: string; url: string };
  assert.ok(body.url.endsWith(`/ui/#signInToken=${body.signInToken}`));
  return body.signInToken;
}

const records = async () => (await t.audit.store.query({})).map((r) => JSON.parse(r.record));

describe('console sign-in', () => {
  it('a one-time sign-in token opens an HttpOnly, SameSite=Strict session once', async () => {
    const token = await adminSignInToken();
    const b = new ConsoleBrowser(t.base);
    const res = await b.signIn({ signInToken: token });
    assert.equal(res.status, 201);
    const cookie = res.headers.get('set-cookie')!;
    assert.match(
      cookie,
      /^cordon_console=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    assert.doesNotMatch(cookie, /Secure/, 'plain HTTP: no Secure flag (the browser would drop it)');
    const session = (await res.json()) as Record<string, unknown>;
    assert.equal(session.user, 'cordon-admin');
    assert.equal(session.admin, true);
    assert.equal(session.idleTimeoutSeconds, 1800);
    const me = await b.call('GET', '/v1/console/session');
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { csrf: string }).csrf, b.csrf);
    // The admin credential never reaches the browser, and the token is spent.
    assert.ok(!JSON.stringify(session).includes(t.admin.authorization.slice(7)));
    const again = await new ConsoleBrowser(t.base).signIn({ signInToken: token });
    assert.equal(again.status, 401);
    assert.match(((await again.json()) as { error: string }).error, /unknown, used or expired/);
  });

  it('a person signs in with the identity provider token; signing in is a recorded decision', async () => {
    const b = new ConsoleBrowser(t.base);
    const res = await b.signIn({ idToken: await t.idToken('carol') });
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { user: string }).user, 'carol');
    const rec = (await records()).findLast((r) => r.action === 'signIn');
    assert.equal(rec.user, 'carol');
    assert.equal(rec.decision, 'allow');
    assert.deepEqual(rec.resource, { type: 'ControlPlane', id: 'console' });
  });

  it('a person policy does not permit to sign in is refused with the policies named', async () => {
    const b = new ConsoleBrowser(t.base);
    const res = await b.signIn({ idToken: await t.idToken('bob') });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: string; decisionId: string };
    assert.match(body.error, /user bob may not signIn ControlPlane::"console"/);
    assert.ok(body.decisionId);
    assert.equal(res.headers.get('set-cookie'), null);
  });

  it('refuses bad credentials and bad bodies without a session', async () => {
    const b = new ConsoleBrowser(t.base);
    for (const [body, status] of [
      [{ idToken: 'not-a-jwt' }, 401],
      [{ idToken: t.admin.authorization.slice(7) }, 401], // the admin credential is no sign-in
      [{ signInToken: 'cst_made-up' }, 401],
      [{}, 400],
      [{ idToken: 'x', signInToken: 'y' }, 400],
      [{ idToken: 'x', extra: 1 }, 400],
    ] as const) {
      const res = await b.signIn(body as never);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.headers.get('set-cookie'), null);
    }
    const expired = await b.signIn({
      idToken: await t.idToken('carol', Math.floor(Date.now() / 1000) - 60),
    });
    assert.equal(expired.status, 401);
  });

  it('refuses a sign-in posted from another site (login CSRF)', async () => {
    const res = await new ConsoleBrowser(t.base).call('POST', '/v1/console/session', {
      body: { signInToken: await adminSignInToken() },
      origin: 'https://evil.example',
    });
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { error: string }).error, /Origin https:\/\/evil\.example/);
  });

  it('signing out revokes the session at once', async () => {
    const b = new ConsoleBrowser(t.base);
    await b.signIn({ signInToken: await adminSignInToken() });
    const stolen = b.cookie;
    assert.equal((await b.call('DELETE', '/v1/console/session')).status, 204);
    const res = await fetch(`${t.base}/v1/console/session`, { headers: { cookie: stolen } });
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: string }).error, /expired or was signed out/);
  });

  it('a session cannot mint sign-in tokens (it would outlive its expiry)', async () => {
    const b = new ConsoleBrowser(t.base);
    await b.signIn({ signInToken: await adminSignInToken() });
    const res = await b.call('POST', '/v1/console/sign-in-tokens');
    assert.equal(res.status, 403);
  });
});

describe('console CSRF', () => {
  it('a state-changing request with the cookie but without the CSRF token is refused', async () => {
    const b = new ConsoleBrowser(t.base);
    await b.signIn({ signInToken: await adminSignInToken() });
    const before = t.audit.size;
    const noToken = await b.call('DELETE', '/v1/console/session', { noCsrf: true });
    assert.equal(noToken.status, 403);
    assert.match(((await noToken.json()) as { error: string }).error, /CSRF check failed/);
    const wrongToken = await b.call('DELETE', '/v1/console/session', {
      headers: { 'x-cordon-csrf': 'x'.repeat(43) },
    });
    assert.equal(wrongToken.status, 403);
    // A cross-site form cannot set headers; a cross-site fetch carries its own Origin.
    const crossSite = await b.call('POST', '/v1/policies/reload', {
      origin: 'https://evil.example',
    });
    assert.equal(crossSite.status, 403);
    const noOrigin = await b.call('DELETE', '/v1/console/session', { origin: null });
    assert.equal(noOrigin.status, 403);
    assert.equal(t.audit.size, before, 'refused before any decision');
    assert.equal((await b.call('GET', '/v1/console/session')).status, 200, 'still signed in');
  });

  it('the cookie authenticates the existing control routes, as the signed-in person', async () => {
    const carol = new ConsoleBrowser(t.base);
    await carol.signIn({ idToken: await t.idToken('carol') });
    assert.equal(
      (await carol.call('GET', '/v1/audit/checkpoint')).status,
      200,
      'an SRE reads the log',
    );
    const refused = await carol.call('POST', '/v1/policies/reload');
    assert.equal(refused.status, 403, 'past CSRF, Cedar refuses carol a reload');
    assert.match(((await refused.json()) as { error: string }).error, /user carol may not reload/);
    const admin = new ConsoleBrowser(t.base);
    await admin.signIn({ signInToken: await adminSignInToken() });
    assert.equal((await admin.call('POST', '/v1/policies/reload', { noCsrf: true })).status, 403);
    assert.equal((await admin.call('POST', '/v1/policies/reload')).status, 200);
  });

  it('a bearer request ignores the cookie and needs no CSRF token', async () => {
    const res = await fetch(`${t.base}/v1/console/sign-in-tokens`, {
      method: 'POST',
      headers: { ...t.admin, cookie: 'cordon_console=garbage' },
    });
    assert.equal(res.status, 201);
  });

  it('an unknown cookie is a 401, never the anonymous caller', async () => {
    const res = await fetch(`${t.base}/v1/audit/checkpoint`, {
      headers: { cookie: 'cordon_console=forged' },
    });
    assert.equal(res.status, 401);
  });
});

describe('console sessions', () => {
  it('end when idle, at their absolute limit, and at the identity token expiry', () => {
    let now = 0;
    const s = new ConsoleSessions({ idleMs: 1000, maxMs: 5000, now: () => now });
    const a = s.create({ kind: 'person', user: 'carol' });
    now = 900;
    assert.ok(s.lookup(a.id));
    now = 1800;
    assert.ok(s.lookup(a.id), 'used 900 ms ago: still live');
    now = 2900;
    assert.equal(s.lookup(a.id), undefined, 'idle for 1100 ms');
    const b = s.create({ kind: 'person', user: 'carol' });
    for (now = 3000; now < 7900; now += 500) assert.ok(s.lookup(b.id));
    now = 8000;
    assert.equal(s.lookup(b.id), undefined, 'past 5 s since sign-in');
    const c = s.create({ kind: 'person', user: 'carol' }, now + 200);
    now += 300;
    assert.equal(s.lookup(c.id), undefined, 'past the identity provider token');
  });

  it('keep a bounded number, dropping the oldest', () => {
    const s = new ConsoleSessions({ maxSessions: 2 });
    const a = s.create({ kind: 'admin' });
    const b = s.create({ kind: 'admin' });
    const c = s.create({ kind: 'admin' });
    assert.equal(s.lookup(a.id), undefined);
    assert.ok(s.lookup(b.id) && s.lookup(c.id));
    assert.equal(s.revokeUser('cordon-admin'), 2);
  });

  it('sign-in tokens are single use and expire', () => {
    let now = 0;
    const s = new ConsoleSessions({ signInTokenMs: 100, now: () => now });
    const a = s.mintSignInToken({ kind: 'admin' });
    assert.deepEqual(s.redeemSignInToken(a.token), { kind: 'admin' });
    assert.equal(s.redeemSignInToken(a.token), undefined);
    const b = s.mintSignInToken({ kind: 'admin' });
    now = 100;
    assert.equal(s.redeemSignInToken(b.token), undefined);
  });
});

describe('behind a TLS proxy (console.publicUrl)', () => {
  it('takes the public origin, and the cookie is Secure with the __Host- prefix', async () => {
    const p = await consoleApp({ sessions: { publicUrl: 'https://cordon.example' } });
    try {
      const minted = await fetch(`${p.base}/v1/console/sign-in-tokens`, {
        method: 'POST',
        headers: p.admin,
      });
      const { signInToken, url } = (await minted.json()) as { signInToken: string; url: string };
      assert.ok(url.startsWith('https://cordon.example/ui/#signInToken='));
      const b = new ConsoleBrowser(p.base);
      const res = await b.call('POST', '/v1/console/session', {
        body: { signInToken },
        origin: 'https://cordon.example',
      });
      assert.equal(res.status, 201);
      const cookie = res.headers.get('set-cookie')!;
      assert.match(
        cookie,
        /^__Host-cordon_console=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/,
      );
      b.csrf = ((await res.json()) as { csrf: string }).csrf;
      const evil = await b.call('DELETE', '/v1/console/session', {
        origin: 'https://evil.example',
      });
      assert.equal(evil.status, 403);
      const out = await b.call('DELETE', '/v1/console/session', {
        origin: 'https://cordon.example',
      });
      assert.equal(out.status, 204);
    } finally {
      await p.close();
    }
  });
});
