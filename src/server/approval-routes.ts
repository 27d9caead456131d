// Approval endpoints: list, read (with a long-poll wait), approve and deny.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { answerApproval } from '../approval/answer.js';
import type { ApproverAuthenticator } from '../approval/approver-auth.js';
import { ApprovalError, type ApprovalService } from '../approval/service.js';
import { formatIssues } from '../core/request.js';
import { bearerOf } from '../mcp/bearer.js';
import type { DecisionService } from './decisions.js';

export interface ApprovalRoutesOptions {
  approvals: ApprovalService;
  decisions: DecisionService;
  authenticate: ApproverAuthenticator;
}

/** The longest a GET may wait for an answer. */
const MAX_WAIT_SECONDS = 120;

const listQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'used']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const getQuery = z.strictObject({
  wait: z.coerce.number().min(0).max(MAX_WAIT_SECONDS).default(0),
});
const answerBody = z
  .strictObject({
    approver: z.string().min(1).optional(),
    note: z.string().max(4096).optional(),
    uses: z.number().int().positive().optional(),
  })
  .default({});

export function registerApprovalRoutes(app: FastifyInstance, o: ApprovalRoutesOptions): void {
  app.get('/v1/approvals', async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: formatIssues(q.error) });
    return { approvals: await o.approvals.list(q.data) };
  });

  app.get<{ Params: { id: string } }>('/v1/approvals/:id', async (req, reply) => {
    const q = getQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: formatIssues(q.error) });
    const a = await o.approvals.wait(req.params.id, q.data.wait * 1000);
    if (!a) return reply.code(404).send({ error: `no approval request ${req.params.id}` });
    return a;
  });

  for (const [verb, verdict] of [
    ['approve', 'approved'],
    ['deny', 'denied'],
  ] as const) {
    app.post<{ Params: { id: string } }>(`/v1/approvals/:id/${verb}`, async (req, reply) => {
      const body = answerBody.safeParse(req.body ?? undefined);
      if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
      try {
        const approver = await o.authenticate(
          bearerOf(req.headers.authorization),
          body.data.approver,
        );
        const { approval } = await answerApproval(o.decisions, o.approvals, {
          id: req.params.id,
          verdict,
          approver,
          via: 'http',
          ...(body.data.note !== undefined ? { note: body.data.note } : {}),
          ...(body.data.uses !== undefined ? { uses: body.data.uses } : {}),
        });
        return approval;
      } catch (e) {
        if (e instanceof ApprovalError) return reply.code(e.status).send({ error: e.message });
        throw e;
      }
    });
  }
}
