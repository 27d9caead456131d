// What every console route shares: its options, the Cedar check in front of it (a recorded
// decision for the signed-in person; 403 naming the policies), and input parsing with a 400.

import type { FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { decodeJwt } from 'jose';
import type { z } from 'zod';
import { parseDurationSeconds } from '../../../cli/durations.js';
import { formatIssues } from '../../../core/request.js';
import type { ResourceRef } from '../../../core/types.js';
import type { DecisionService } from '../../../decision/service.js';
import type { ApprovalService } from '../../../approval/service.js';
import type { IsolationService } from '../../../isolation/service.js';
import type { BaselineService } from '../../../risk/baseline-service.js';
import type { PersonVerifier } from '../../../identity/people.js';
import { bearerOf } from '../../mcp/bearer.js';
import { authorizeControl, ControlDenied, sendDenied, type ControlAction } from '../control.js';
import type { ConsoleSessions } from './sessions.js';
import type { LogFeed } from './feed.js';

export interface ConsoleOptions {
  decisions: DecisionService;
  sessions: ConsoleSessions;
  /** Verifies identity provider JWTs at sign-in (auth.issuer). */
  people?: PersonVerifier;
  approvals?: ApprovalService;
  isolation?: IsolationService;
  baselines?: BaselineService;
  /** The policy directory the serving set comes from, when there is one (its tests/). */
  policyDir?: () => string | undefined;
  /** Why the directory's latest edit is not serving, if it is not. */
  reloadError?: () => string | undefined;
  /** The built console (ui/dist); default: beside the package. */
  uiDir?: string;
  /** Keep-alive comments on event streams this often (default 15 s). */
  heartbeatMs?: number;
}

/** What the route handlers get: the options plus the shared log feed. */
export interface ConsoleContext extends ConsoleOptions {
  feed: LogFeed;
}

/** Decides `action` on `resource` for the caller; false (and the 403 sent) when refused. */
export async function permitted(
  decisions: DecisionService,
  req: FastifyRequest,
  reply: FastifyReply,
  action: ControlAction,
  resource: ResourceRef,
): Promise<boolean> {
  try {
    await authorizeControl(decisions, req.caller, action, resource);
    return true;
  } catch (e) {
    if (e instanceof ControlDenied) {
      await sendDenied(reply, e);
      return false;
    }
    throw e;
  }
}

/** A control route whose every request is first the Cedar decision `action` on `resource`. */
export function guarded(
  decisions: DecisionService,
  action: ControlAction,
  resource: ResourceRef,
): RouteShorthandOptions {
  return {
    config: { auth: 'control' },
    preHandler: async (req, reply) => {
      await permitted(decisions, req, reply, action, resource);
    },
  };
}

/** Parses `value` with `schema`, or sends a 400 naming what is wrong and returns undefined. */
export function parsed<S extends z.ZodType>(
  schema: S,
  value: unknown,
  reply: FastifyReply,
): z.infer<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  void reply.code(400).send({ error: formatIssues(r.error) });
  return undefined;
}

/** An ISO time, or a duration back from now (90s, 15m, 24h, 7d), as an ISO time; throws if neither. */
export function sinceOf(text: string, now = new Date()): string {
  const seconds = /[smhd]$/.test(text) ? parseDurationSeconds(text) : undefined;
  if (seconds !== undefined) return new Date(now.getTime() - seconds * 1000).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`"${text}" is neither an ISO time nor a duration like 24h`);
  return new Date(t).toISOString();
}

/**
 * What keeps an event stream open (checked before each event): its console session live, or
 * the bearer JWT it was opened with (a person's or an agent's) not yet expired. A token
 * verified once at connect must not stream on for ever after it ends.
 */
export function streamAllowed(c: ConsoleContext, req: FastifyRequest): (() => boolean) | undefined {
  const session = req.consoleSession;
  if (session) return () => c.sessions.live(session);
  const bearer = bearerOf(req.headers.authorization);
  let exp: unknown;
  try {
    exp = bearer === undefined ? undefined : decodeJwt(bearer).exp;
  } catch {
    return undefined; // not a JWT: the admin credential, which does not expire
  }
  return typeof exp === 'number' ? () => Date.now() < exp * 1000 : undefined;
}
