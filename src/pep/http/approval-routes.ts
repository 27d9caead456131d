// Approval endpoints: list, read (with a long-poll wait), approve and deny. All control-plane
// routes: reading needs `readApprovals`, answering is the approver's `approve` decision.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { answerApproval } from '../../approval/answer.js';
import { approverOf, type ApproverMode } from '../../approval/approver-auth.js';
import { ApprovalError, type ApprovalService } from '../../approval/service.js';
import { formatIssues } from '../../core/request.js';
import { authorizeControl, ControlDenied, controlPlane, sendDenied } from './control.js';
import type { DecisionService } from '../../decision/service.js';

export interface ApprovalRoutesOptions {
  approvals: ApprovalService;
  decisions: DecisionService;
  /** Whom an answer counts as (approver-auth.ts). */
  approvers: ApproverMode;
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
  const reading = {
    config: { auth: 'control' as const },
    preHandler: async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        await authorizeControl(o.decisions, req.caller, 'readApprovals', controlPlane('approvals'));
      } catch (e) {
        if (e instanceof ControlDenied) return sendDenied(reply, e);
        throw e;
      }
    },
  };

  app.get('/v1/approvals', reading, async (req, reply) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: formatIssues(q.error) });
    return { approvals: await o.approvals.list(q.data) };
  });

  app.get<{ Params: { id: string } }>('/v1/approvals/:id', reading, async (req, reply) => {
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
    app.post<{ Params: { id: string } }>(
      `/v1/approvals/:id/${verb}`,
      { config: { auth: 'control' } },
      async (req, reply) => {
        const body = answerBody.safeParse(req.body ?? undefined);
        if (!body.success) return reply.code(400).send({ error: formatIssues(body.error) });
        try {
          const approver = approverOf(o.approvers, req.caller, body.data.approver);
          const { approval } = await answerApproval(o.decisions, o.approvals, {
            id: req.params.id,
            verdict,
            approver: approver.user,
            ...(approver.standIn ? { standIn: approver.standIn } : {}),
            via: 'http',
            ...(body.data.note !== undefined ? { note: body.data.note } : {}),
            ...(body.data.uses !== undefined ? { uses: body.data.uses } : {}),
          });
          return approval;
        } catch (e) {
          if (e instanceof ApprovalError) return reply.code(e.status).send({ error: e.message });
          throw e;
        }
      },
    );
  }
}
