import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { signatureOf } from '../../approval/webhook.js';
import { AuditLog } from '../../audit/log.js';
import type { AuditRecord } from '../../audit/record.js';
import { isolationWebhook } from '../../isolation/webhook.js';
import { tempDir } from '../../testing/fixtures.js';
import { testAuth } from '../../testing/auth.js';
import { isolatedDecisions } from '../../testing/isolation.js';
import { freePort } from '../../testing/net.js';
import { buildApp } from './app.js';
import { Metrics } from '../../decision/metrics.js';

// The isolation control routes with the shipped control policies: the admin may isolate,
// carol (an SRE) may list, bob (an intern) may do neither.
const SECRET = 'isolation-webhook-secret-0123456789';
let app: FastifyInstance;
let base: string;
let admin: { authorization: string };
let log: AuditLog;
let ctx: Awaited<ReturnType<typeof isolatedDecisions>>;
let hook: {
  server: ReturnType<typeof createServer>;
  got: { headers: IncomingMessage['headers']; body: string }[];
};

before(async () => {
  hook = { server: createServer(), got: [] };
  hook.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hook.got.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => hook.server.listen(port, '127.0.0.1', r));
  log = await AuditLog.open(await tempDir('cordon-iso-routes-'), {
    checkpointIntervalMs: 3_600_000,
  });
  ctx = await isolatedDecisions(
    // The control policies are the shipped ones (mcpPolicyDir copies none): the same text.
    `@id("admins-run-the-control-plane")
     permit (principal in Role::"cordon-admin", action in [Action::"isolate", Action::"readIsolation"], resource);
     @id("sre-reads") permit (principal in Role::"sre", action == Action::"readIsolation", resource);
     permit (principal == Agent::"support-bot", action, resource);`,
    {
      log,
      service: {
        actuators: [
          isolationWebhook(
            { url: `http://127.0.0.1:${port}/hook`, secret: SECRET },
            pino({ level: 'silent' }),
          ),
        ],
      },
    },
  );
  const t = testAuth(undefined, {
    // Stands in for the identity provider: its token names the person.
    people: async (bearer) => {
      const who = personOf.get(bearer);
      if (!who) throw new Error('unknown person');
      return who;
    },
  });
  admin = t.admin;
  const logger = pino({ level: 'silent' });
  app = buildApp({
    decisions: ctx.decisions,
    metrics: new Metrics(),
    logger,
    auth: t.auth,
    isolation: ctx.isolation,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  await app.close();
  ctx.close();
  await log.close();
  hook.server.close();
});

const call = async (
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A token of the identity provider (a JWT in shape; the verifier above vouches for it). */
const idpToken = (who: string) =>
  `${b64({ alg: 'none' })}.${b64({ iss: 'https://idp.example', sub: who })}.x`;
const personOf = new Map(['bob', 'carol'].map((w) => [idpToken(w), w]));
const person = (who: string) => ({ authorization: `Bearer ${idpToken(who)}` });
const apply = (headers: Record<string, string>, body: Record<string, unknown>) =>
  call('POST', '/v1/isolation', headers, body);
const egressOut = () =>
  ctx.decisions.decide({
    agent: 'support-bot',
    action: 'connectNetwork',
    resource: { type: 'NetworkDestination', id: 'api.example.com:443' },
  });

describe('isolation control routes', () => {
  it('needs an authenticated caller, and Cedar decides what it may do', async () => {
    const body = { agent: 'support-bot', measures: { egress: 'none' }, reason: 'x' };
    assert.equal((await apply({}, body)).status, 401);
    const bob = await apply(person('bob'), body);
    assert.equal(bob.status, 403);
    assert.match(String(bob.body.error), /user bob may not isolate Agent::"support-bot"/);
    assert.equal((await call('GET', '/v1/isolation', person('bob'))).status, 403);
    assert.equal((await call('GET', '/v1/isolation', person('carol'))).status, 200);
    assert.equal(
      (await apply(person('carol'), body)).status,
      403,
      'an SRE reads, does not isolate',
    );
    assert.deepEqual(ctx.isolation.list(), []);
  });

  it('refuses an unknown agent, a missing reason and an empty isolation, changing nothing', async () => {
    const ghost = await apply(admin, { agent: 'ghost', measures: { full: true }, reason: 'x' });
    assert.equal(ghost.status, 404);
    assert.match(String(ghost.body.error), /unknown agent "ghost"/);
    const noReason = await apply(admin, { agent: 'support-bot', measures: { full: true } });
    assert.equal(noReason.status, 400);
    assert.match(String(noReason.body.error), /reason/);
    const nothing = await apply(admin, { agent: 'support-bot', measures: {}, reason: 'x' });
    assert.equal(nothing.status, 400);
    const badUntil = await apply(admin, {
      agent: 'support-bot',
      measures: { full: true },
      reason: 'x',
      until: 'soonish',
    });
    assert.equal(badUntil.status, 400);
    const releaseGhost = await call('POST', '/v1/isolation/release', admin, { agent: 'ghost' });
    assert.equal(releaseGhost.status, 404);
    const releaseNone = await call('DELETE', '/v1/isolation/support-bot', admin);
    assert.equal(releaseNone.status, 404);
    assert.match(String(releaseNone.body.error), /no isolation in force/);
    assert.deepEqual(ctx.isolation.list(), []);
  });

  it('applies, lists and releases; each change is recorded, the webhook is told, signed', async () => {
    assert.equal((await egressOut()).decision, 'allow');
    const applied = await apply(admin, {
      agent: 'support-bot',
      measures: { egress: 'none' },
      reason: 'beaconing',
      until: '2h',
    });
    assert.equal(applied.status, 201);
    const state = applied.body.isolation as { by: string; until: string; decisionId: string };
    assert.equal(state.by, 'cordon-admin');
    assert.ok(Date.parse(state.until) > Date.now() + 3_600_000);
    const refused = await egressOut();
    assert.equal(refused.decision, 'deny');
    assert.match(
      refused.reasons[0]?.message ?? '',
      /network egress is cut\); applied by cordon-admin: beaconing/,
    );

    const listed = await call('GET', '/v1/isolation?agent=support-bot', person('carol'));
    assert.equal((listed.body.isolations as unknown[]).length, 1);

    const released = await call('DELETE', '/v1/isolation/support-bot?reason=resolved', admin);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    assert.equal((await egressOut()).decision, 'allow');

    // The audit log: the authorized isolate decision, then the change naming it; then the release.
    const recs = log.store.tail(200).map((r) => JSON.parse(r.record) as AuditRecord);
    const changes = recs.filter((r) => r.kind === 'isolation');
    assert.deepEqual(
      changes.map((r) => (r.context?.isolation as { change: string }).change),
      ['applied', 'released'],
    );
    assert.equal(changes[0]?.parent, state.decisionId);
    assert.ok(
      recs.some(
        (r) => r.id === state.decisionId && r.action === 'isolate' && r.decision === 'allow',
      ),
    );
    assert.equal(
      (changes[1]?.context?.isolation as { releaseReason: string }).releaseReason,
      'resolved',
    );

    for (let i = 0; i < 100 && hook.got.length < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      hook.got.map((g) => g.headers['x-cordon-event']),
      ['isolation.applied', 'isolation.released'],
    );
    for (const g of hook.got)
      assert.equal(g.headers['x-cordon-signature'], signatureOf(SECRET, g.body));
    const told = JSON.parse(hook.got[0]!.body) as { isolation: { agent: string; reason: string } };
    assert.equal(told.isolation.agent, 'support-bot');
    assert.equal(told.isolation.reason, 'beaconing');
  });
});

// Last: the other tests read the audit log's newest records.
describe('isolation list, long poll', () => {
  it("a list that waits (wait, since) answers when the agent's states change, not before", async () => {
    const first = await call('GET', '/v1/isolation?agent=support-bot', person('carol'));
    const tag = String(first.body.tag);
    let answered = false;
    const waiting = call(
      'GET',
      `/v1/isolation?agent=support-bot&wait=20&since=${encodeURIComponent(tag)}`,
      person('carol'),
    ).then((r) => ((answered = true), r));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(answered, false, 'nothing changed: still waiting');
    const applied = await apply(admin, {
      agent: 'support-bot',
      measures: { egress: 'none' },
      reason: 'long poll',
    });
    assert.equal(applied.status, 201);
    const woken = await waiting;
    assert.equal((woken.body.isolations as unknown[]).length, 1);
    assert.notEqual(woken.body.tag, tag);
    // A stale tag answers at once; a wait past 20 s is refused.
    const stale = await call(
      'GET',
      `/v1/isolation?agent=support-bot&wait=20&since=${encodeURIComponent(tag)}`,
      person('carol'),
    );
    assert.equal((stale.body.isolations as unknown[]).length, 1);
    assert.equal((await call('GET', '/v1/isolation?wait=60', person('carol'))).status, 400);
    assert.equal((await call('DELETE', '/v1/isolation/support-bot', admin)).status, 200);
  });
});
