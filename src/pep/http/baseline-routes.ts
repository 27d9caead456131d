// Baselines over HTTP (control plane; `cordon baseline …` calls these): show an agent's
// baseline (`readBaseline`), switch its mode or forget what was learned (`manageBaseline`, the
// mode or `reset` in the decision's input, so the audit log records every change and who made
// it), and suggest least-privilege policies with a what-if (`readBaseline` and `readAudit`).
// An agent entities.json does not list is a 404, not a no-op.

import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AuditRecord } from '../../audit/record.js';
import { formatIssues } from '../../core/request.js';
import type { ResourceRef } from '../../core/types.js';
import { BASELINE_MODES, type BaselineService } from '../../risk/baseline-service.js';
import {
  candidateSet,
  suggestPolicies,
  validateSuggestion,
  whatIfSuggestion,
} from '../../risk/baseline-suggest.js';
import type { Caller } from './auth.js';
import {
  authorizeControl,
  ControlDenied,
  controlPlane,
  describe,
  sendDenied,
  type ControlAction,
} from './control.js';
import type { DecisionService } from '../../decision/service.js';

export interface BaselineRoutesOptions {
  baselines: BaselineService;
  decisions: DecisionService;
  /** The recorded decisions since an ISO time (all when undefined); absent without an audit log. */
  records?: (since: string | undefined) => AsyncIterable<AuditRecord>;
}

const modeBody = z.strictObject(
  { mode: z.enum(BASELINE_MODES) },
  { error: `send {"mode": "${BASELINE_MODES.join('" | "')}"}` },
);
const suggestQuery = z.strictObject({ since: z.iso.datetime({ offset: true }).optional() });

type Params = { Params: { agent: string } };

/** A baseline store that fails is a 503 saying so, not a 500. */
const UNAVAILABLE = Symbol('unavailable');

async function stored<T>(
  reply: FastifyReply,
  op: () => Promise<T>,
): Promise<T | typeof UNAVAILABLE> {
  try {
    return await op();
  } catch (e) {
    reply.log.error({ err: e }, 'baseline store failed');
    void reply
      .code(503)
      .send({ error: `the baseline store cannot be used: ${(e as Error).message}` });
    return UNAVAILABLE;
  }
}

export function registerBaselineRoutes(app: FastifyInstance, o: BaselineRoutesOptions): void {
  const control = { config: { auth: 'control' as const } };
  const agentRef = (id: string): ResourceRef => ({ type: 'Agent', id });

  /** Authorizes, then finds the agent; sends the refusal or the 404 and returns undefined. */
  async function permitted(
    caller: Caller,
    reply: FastifyReply,
    id: string,
    actions: [ControlAction, ResourceRef][],
    input?: Record<string, unknown>,
  ): Promise<string[] | undefined> {
    try {
      for (const [action, resource] of actions)
        await authorizeControl(o.decisions, caller, action, resource, input);
    } catch (e) {
      if (e instanceof ControlDenied) {
        sendDenied(reply, e);
        return undefined;
      }
      throw e;
    }
    const entity = o.decisions.engine.policies.store.get('Agent', id);
    if (!entity) {
      void reply.code(404).send({ error: `agent ${id} is not listed in entities.json` });
      return undefined;
    }
    return entity.parents.filter((p) => p.type === 'AgentClass').map((p) => p.id);
  }

  app.get<Params>('/v1/baselines/:agent', control, async (req, reply) => {
    const { agent } = req.params;
    const classes = await permitted(req.caller, reply, agent, [['readBaseline', agentRef(agent)]]);
    if (!classes) return reply;
    const summary = await stored(reply, () => o.baselines.summary(agent, classes));
    return summary === UNAVAILABLE ? reply : summary;
  });

  app.post<Params>('/v1/baselines/:agent/mode', control, async (req, reply) => {
    const body = modeBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
    const { agent } = req.params;
    const ok = await permitted(req.caller, reply, agent, [['manageBaseline', agentRef(agent)]], {
      mode: body.data.mode,
    });
    if (!ok) return reply;
    const changed = await stored(reply, async () => ({
      before: await o.baselines.mode(agent),
      after: await o.baselines.setMode(agent, body.data.mode, describe(req.caller)),
    }));
    if (changed === UNAVAILABLE) return reply;
    const { before, after } = changed;
    req.log.info(
      { agent, from: before.mode, to: after.mode, by: after.by },
      'baseline mode changed',
    );
    return { agent, previous: before.mode, ...after };
  });

  app.post<Params>('/v1/baselines/:agent/reset', control, async (req, reply) => {
    const { agent } = req.params;
    const ok = await permitted(req.caller, reply, agent, [['manageBaseline', agentRef(agent)]], {
      reset: true,
    });
    if (!ok) return reply;
    const forgotten = await stored(reply, () => o.baselines.reset(agent));
    if (forgotten === UNAVAILABLE) return reply;
    req.log.info({ agent, forgotten, by: describe(req.caller) }, 'baseline reset');
    return { agent, reset: forgotten };
  });

  app.get<Params>('/v1/baselines/:agent/suggest', control, async (req, reply) => {
    const q = suggestQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: formatIssues(q.error) });
    const { agent } = req.params;
    const ok = await permitted(req.caller, reply, agent, [
      ['readBaseline', agentRef(agent)],
      ['readAudit', controlPlane('audit')],
    ]);
    if (!ok) return reply;
    const serving = o.decisions.engine.policies;
    const baseline = await stored(reply, () => o.baselines.current('agent', agent));
    if (baseline === UNAVAILABLE) return reply;
    const now = Date.now();
    const suggestion = suggestPolicies(agent, baseline, now);
    const validation = validateSuggestion(suggestion.text, serving.sources);
    let whatif;
    if (!validation.valid) whatif = { skipped: 'the suggested policies do not validate' };
    else if (!o.records) whatif = { skipped: 'no audit log: nothing recorded to replay' };
    else
      whatif = await whatIfSuggestion(
        agent,
        o.records(q.data.since),
        candidateSet(agent, serving, suggestion.text),
      );
    return {
      agent,
      policyVersion: serving.version,
      ...(q.data.since ? { since: q.data.since } : {}),
      policies: suggestion.text,
      count: suggestion.policies,
      validation,
      whatif,
    };
  });
}
