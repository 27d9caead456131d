// HTTP access to the audit log: the latest signed checkpoint, inclusion proofs, records.
// Control-plane routes: an authenticated caller whom policy permits `readAudit`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditService } from '../../store/audit-port.js';
import { formatIssues } from '../../core/request.js';
import { authorizeControl, ControlDenied, controlPlane, sendDenied } from './control.js';
import type { DecisionService } from '../../decision/service.js';

const recordsQuery = z.strictObject({
  session: z.string().min(1).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  after: z.coerce.number().int().min(-1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function registerAuditRoutes(
  app: FastifyInstance,
  audit: AuditService,
  decisions: DecisionService,
): void {
  const control = {
    config: { auth: 'control' as const },
    preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        await authorizeControl(decisions, req.caller, 'readAudit', controlPlane('audit'));
      } catch (e) {
        if (e instanceof ControlDenied) return sendDenied(reply, e);
        throw e;
      }
    },
  };

  app.get('/v1/audit/checkpoint', control, async (_req, reply) => {
    const note = await audit.checkpoint();
    if (!note) return reply.code(404).send({ error: 'the log is empty: no checkpoint yet' });
    return reply.type('text/plain; charset=utf-8').send(note);
  });

  app.get<{ Params: { decisionId: string } }>(
    '/v1/audit/proof/:decisionId',
    control,
    async (req, reply) => {
      let bundle;
      try {
        bundle = await audit.proof(req.params.decisionId);
      } catch (e) {
        // The cluster log: the record is not sequenced or signed yet. Say so; try again later.
        if ((e as { statusCode?: unknown }).statusCode === 503)
          return reply.code(503).send({ error: (e as Error).message });
        throw e;
      }
      if (!bundle)
        return reply.code(404).send({ error: `no decision ${req.params.decisionId} in the log` });
      return bundle;
    },
  );

  app.get('/v1/audit/records', control, async (req, reply) => {
    const q = recordsQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: formatIssues(q.error) });
    const { limit, ...filter } = q.data;
    const rows = await audit.store.query({ ...filter, limit });
    return { records: rows.map((r) => JSON.parse(r.record) as unknown) };
  });
}
