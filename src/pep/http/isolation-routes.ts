// Isolation on the control plane (docs/risk-and-baselines.md, "Isolation"): apply
// (POST /v1/isolation), list (GET /v1/isolation, which can wait for a change), release (POST /v1/isolation/release, or
// DELETE /v1/isolation/:agent). Each is decided by Cedar for the authenticated caller
// (`isolate` on the Agent, `readIsolation` on ControlPlane::"isolation") and recorded; each
// change is an audit record of its own. An unknown agent is a 404, never a silent no-op.

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { formatIssues } from '../../core/request.js';
import { parseDurationSeconds } from '../../cli/durations.js';
import { measuresSchema } from '../../isolation/config.js';
import { IsolationError, type IsolationService } from '../../isolation/service.js';
import { authorizeControl, ControlDenied, controlPlane, describe, sendDenied } from './control.js';
import type { DecisionService } from '../../decision/service.js';

export interface IsolationRoutesOptions {
  isolation: IsolationService;
  decisions: DecisionService;
}

const scope = {
  agent: z.string().min(1, 'agent is required'),
  user: z.string().min(1).optional(),
  session: z.string().min(1).optional(),
};

const applyBody = z
  .strictObject({
    ...scope,
    measures: measuresSchema,
    reason: z.string().trim().min(1, 'a reason is required'),
    /** A duration (90s, 15m, 24h, 7d) or an ISO time. */
    until: z.string().min(1).optional(),
  })
  .refine((b) => !(b.user && b.session), 'give a user or a session, not both');

const releaseBody = z.strictObject({ ...scope, reason: z.string().trim().min(1).optional() });

function untilOf(text: string | undefined, now: Date): Date | undefined {
  if (text === undefined) return undefined;
  const seconds = parseDurationSeconds(text);
  if (seconds) return new Date(now.getTime() + seconds * 1000);
  const t = new Date(text);
  if (Number.isNaN(t.getTime()))
    throw new IsolationError(`until "${text}": give a duration like 30m or an ISO time`);
  return t;
}

/** A short tag of a list of states: equal tags, same list. */
const listTag = (states: unknown[]) =>
  createHash('sha256').update(JSON.stringify(states)).digest('base64url').slice(0, 22);

const failed = (reply: FastifyReply, e: unknown) => {
  if (e instanceof ControlDenied) return sendDenied(reply, e);
  if (e instanceof IsolationError) return reply.code(e.status).send({ error: e.message });
  throw e;
};

export function registerIsolationRoutes(app: FastifyInstance, o: IsolationRoutesOptions): void {
  const control = { config: { auth: 'control' as const } };
  const { isolation, decisions } = o;

  app.post('/v1/isolation', control, async (req, reply) => {
    const body = applyBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    const b = body.data;
    try {
      const until = untilOf(b.until, new Date());
      const d = await authorizeControl(
        decisions,
        req.caller,
        'isolate',
        {
          type: 'Agent',
          id: b.agent,
        },
        { measures: b.measures },
      );
      const state = await isolation.apply({
        agent: b.agent,
        ...(b.user ? { user: b.user } : {}),
        ...(b.session ? { session: b.session } : {}),
        measures: b.measures,
        reason: b.reason,
        by: describe(req.caller),
        decisionId: d.decisionId,
        ...(until ? { until } : {}),
      });
      return reply.code(201).send({ isolation: state });
    } catch (e) {
      return failed(reply, e);
    }
  });

  // Long polls waiting for a change (`cordon run --follow`), woken when the server closes.
  const waiters = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const w of [...waiters]) w();
  });

  app.get('/v1/isolation', control, async (req, reply) => {
    const q = req.query as { agent?: unknown; wait?: unknown; since?: unknown };
    const agent = q.agent;
    if (agent !== undefined && typeof agent !== 'string')
      return reply.code(400).send({ error: 'agent must be one agent id' });
    // wait=S&since=TAG: answer once the list differs from the one tagged TAG, or after S seconds
    // (a follower learns of a change at once, with one request, one decision, per S seconds).
    const wait = q.wait === undefined ? 0 : Number(q.wait);
    if (!Number.isInteger(wait) || wait < 0 || wait > 20)
      return reply.code(400).send({ error: 'wait must be whole seconds from 0 to 20' });
    if (q.since !== undefined && typeof q.since !== 'string')
      return reply.code(400).send({ error: 'since must be one tag' });
    try {
      await authorizeControl(decisions, req.caller, 'readIsolation', controlPlane('isolation'));
    } catch (e) {
      return failed(reply, e);
    }
    const list = () => isolation.list(agent || undefined);
    if (wait > 0 && q.since === listTag(list()))
      await new Promise<void>((resolve) => {
        const done = () => {
          off();
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const off = isolation.onChange((c) => {
          if (!agent || c.state.agent === agent) done();
        });
        const timer = setTimeout(done, wait * 1000);
        waiters.add(done);
        reply.raw.once('close', done);
      });
    const isolations = list();
    return { isolations, tag: listTag(isolations), store: isolation.health() };
  });

  const release = async (
    reply: FastifyReply,
    caller: Parameters<typeof describe>[0],
    b: z.infer<typeof releaseBody>,
  ) => {
    try {
      await authorizeControl(
        decisions,
        caller,
        'isolate',
        { type: 'Agent', id: b.agent },
        {
          release: true,
        },
      );
      const released = await isolation.release(
        {
          agent: b.agent,
          ...(b.user ? { user: b.user } : {}),
          ...(b.session ? { session: b.session } : {}),
        },
        describe(caller),
        b.reason,
      );
      return { released };
    } catch (e) {
      return failed(reply, e);
    }
  };

  app.post('/v1/isolation/release', control, async (req, reply) => {
    const body = releaseBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    return release(reply, req.caller, body.data);
  });

  app.delete('/v1/isolation/:agent', control, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const body = releaseBody.safeParse({ ...q, agent: (req.params as { agent: string }).agent });
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    return release(reply, req.caller, body.data);
  });
}
