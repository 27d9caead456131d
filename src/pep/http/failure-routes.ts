// POST /v1/decisions/:id/failure: an enforcement point in another process (the remote SDK)
// reports that an action Cordon allowed then failed (the guarded function threw). The decision
// must be in this node's audit log and be an allow; the event (decision/failure.ts) names it as
// its parent. A decision route: who may ask for decisions may report on them, but an agent
// (by its token) only on its own decisions and a PEP only on the ones it asked for. A decision
// takes a bounded number of reports (failure-limit.ts).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditRecord } from '../../audit/record.js';
import { formatIssues } from '../../core/request.js';
import type { DecisionService } from '../../decision/service.js';
import { failureTrace } from '../../decision/failure.js';
import type { AuditService } from '../../store/audit-port.js';
import { FailureReports } from './failure-limit.js';

const body = z.strictObject({
  error: z.string().min(1).max(128),
  code: z.string().min(1).max(128).optional(),
});

export function registerFailureRoutes(
  app: FastifyInstance,
  audit: AuditService,
  decisions: DecisionService,
  reports = new FailureReports(),
): void {
  app.post<{ Params: { id: string } }>(
    '/v1/decisions/:id/failure',
    { config: { auth: 'decision' } },
    async (req, reply) => {
      const b = body.safeParse(req.body);
      if (!b.success) return reply.code(400).send({ error: formatIssues(b.error) });
      const stored = await audit.store.byDecisionId(req.params.id);
      if (!stored) return reply.code(404).send({ error: `no decision ${req.params.id}` });
      const rec = JSON.parse(stored.record) as AuditRecord;
      if (rec.kind !== undefined || rec.decision !== 'allow')
        return reply
          .code(409)
          .send({ error: `${req.params.id} is not an allowed action: nothing ran to fail` });
      const { caller } = req;
      if (
        (caller.kind === 'agent' && caller.agent !== rec.agent) ||
        (caller.kind === 'pep' && caller.name !== rec.pep)
      )
        return reply
          .code(403)
          .send({ error: `decision ${req.params.id} is not yours to report on` });
      if (!reports.take(rec.id))
        return reply.code(429).send({
          error: `decision ${rec.id} already has ${reports.perDecision} failures recorded, the most one decision takes: this one is not recorded`,
        });
      const trace = failureTrace(
        decisions.engine.policies,
        {
          ...(rec.agent !== undefined ? { agent: rec.agent } : {}),
          ...(rec.user !== undefined ? { user: rec.user } : {}),
          ...(rec.session !== undefined ? { session: rec.session } : {}),
          action: rec.action,
          resource: rec.resource,
          pep: rec.pep,
        },
        {
          decision: 'allow',
          decisionId: rec.id,
          policyVersion: rec.policyVersion,
          risk: rec.facts.risk,
        },
        b.data,
      );
      await audit.append(trace);
      return reply.code(201).send({ recorded: trace.decision.decisionId, parent: rec.id });
    },
  );
}
