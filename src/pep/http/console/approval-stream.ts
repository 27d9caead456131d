// The approvals inbox's live channel (docs/api.md "Console API", Approvals): the pending
// requests, each with exactly what it would allow (action, resource and the bound input), and the
// recently answered ones, sent at connect and again whenever they change. The store is looked at
// once a second while the stream is open (it may be shared by a cluster) and at once when this
// node decides something (a new request) — answers go through POST /v1/approvals/{id}/….

import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ApprovalService } from '../../../approval/service.js';
import { controlPlane } from '../control.js';
import { guarded, streamAllowed, type ConsoleContext } from './common.js';
import { EventStream } from './sse.js';

const RECENT = 50;

async function snapshot(approvals: ApprovalService) {
  const pending = await approvals.list({ status: 'pending', limit: 1000 });
  const all = await approvals.list({ limit: 200 });
  const byCreated = (a: { createdAt: string }, b: { createdAt: string }) =>
    a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
  const recent = all
    .filter((a) => a.status !== 'pending')
    .sort((a, b) => byCreated(b, a))
    .slice(0, RECENT);
  return { pending: pending.sort(byCreated), recent };
}

export function registerApprovalStream(
  app: FastifyInstance,
  c: ConsoleContext,
  approvals: ApprovalService,
): void {
  const read = guarded(c.decisions, 'readApprovals', controlPlane('approvals'));
  app.get('/v1/console/approvals/stream', read, async (req, reply) => {
    const first = await snapshot(approvals);
    const allowed = streamAllowed(c, req);
    const stream = new EventStream(req, reply, {
      ...(allowed ? { stillAllowed: allowed } : {}),
      ...(c.heartbeatMs ? { heartbeatMs: c.heartbeatMs } : {}),
    });
    const closed = new Promise<void>((resolve) => stream.onClose(resolve));
    let last = '';
    let current = first;
    try {
      while (!stream.closed) {
        const text = JSON.stringify(current);
        const tag = createHash('sha256').update(text).digest('base64url');
        // Answers and expiries change the lists; an unchanged state is not sent again.
        if (tag !== last) {
          last = tag;
          if (!stream.send('approvals', current, tag)) await stream.drained();
        }
        await Promise.race([c.feed.next(), closed]);
        if (stream.closed) return;
        current = await snapshot(approvals);
      }
    } catch (err) {
      req.log.error({ err }, 'the approvals stream failed');
      stream.send('error', { error: 'reading the approval store failed; reconnect' });
      stream.close();
    }
  });
}
