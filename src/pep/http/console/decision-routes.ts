// The console's decisions page (docs/api.md "Console API", Decisions): the live stream (SSE,
// resumable with Last-Event-ID because positions are log indexes), pages back through the log,
// one decision with its policies' locations, its session chain, and an inclusion proof laid out
// for WebCrypto. Everything is read from the audit log after the fact: the decision path only
// wakes the streams (feed.ts).

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseVerifierKey } from '../../../audit/note.js';
import { canonical, type AuditRecord } from '../../../audit/record.js';
import type { AuditService } from '../../../store/audit-port.js';
import { controlPlane } from '../control.js';
import { guarded, parsed, permitted, streamAllowed, type ConsoleContext } from './common.js';
import {
  filterFields,
  matches,
  newestSeq,
  parseRecord,
  scanBack,
  summarize,
  type DecisionSummary,
} from './records.js';
import { PolicyVersions, locate, sourceInfo, type PolicyLocation } from './policy-source.js';
import { EventStream } from './sse.js';

const position = z.coerce.number().int().min(-1);

const streamQuery = z.strictObject({
  ...filterFields,
  backlog: z.coerce.number().int().min(0).max(500).default(50),
  lastEventId: position.optional(),
});
const listQuery = z.strictObject({
  ...filterFields,
  before: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const sourceQuery = z.strictObject({ version: z.string().min(1).max(200).optional() });

/** Records a stream reads at once: what one client can make the server hold. */
const STREAM_PAGE = 200;
/** How far back the backlog and one page of the list look. */
const MAX_SCAN = 5000;
/** Records of a session shown with a decision. */
const SESSION_LIMIT = 500;

/** A signed note's body and its signatures, split as WebCrypto needs them. */
export function splitCheckpoint(note: string) {
  const sep = note.lastIndexOf('\n\n');
  const text = note.slice(0, sep + 1);
  const [origin = '', size = '0', root = ''] = text.split('\n');
  const signatures = note
    .slice(sep + 2)
    .split('\n')
    .filter((l) => l.startsWith('— '))
    .map((line) => {
      const [, keyName = '', b64 = ''] = line.split(' ');
      const blob = Buffer.from(b64, 'base64');
      return {
        keyName,
        keyId: blob.subarray(0, 4).toString('hex'),
        signature: blob.subarray(4).toString('base64'),
      };
    });
  return { note, text, origin, size: Number(size), root, signatures };
}

export function registerDecisionRoutes(
  app: FastifyInstance,
  c: ConsoleContext,
  audit: AuditService,
): void {
  const { decisions, feed } = c;
  const store = audit.store;
  const view = guarded(decisions, 'viewDecisions', controlPlane('decisions'));
  const versions = new PolicyVersions(() => decisions.engine.policies, store);

  app.get('/v1/console/decisions/stream', view, async (req, reply) => {
    const q = parsed(streamQuery, req.query, reply);
    if (!q) return;
    const header = req.headers['last-event-id'];
    let resume = q.lastEventId;
    if (typeof header === 'string' && header !== '') {
      const p = position.safeParse(header);
      if (!p.success)
        return reply.code(400).send({ error: 'Last-Event-ID must be a log position (an integer)' });
      resume = p.data;
    }
    const newest = await newestSeq(store);
    const backlog =
      resume === undefined
        ? (await scanBack(store, q, newest + 1, q.backlog, MAX_SCAN)).records
        : [];
    const allowed = streamAllowed(c, req);
    const stream = new EventStream(req, reply, {
      ...(allowed ? { stillAllowed: allowed } : {}),
      ...(c.heartbeatMs ? { heartbeatMs: c.heartbeatMs } : {}),
    });
    for (const rec of backlog.reverse()) stream.send('decision', summarize(rec), rec.seq);
    let cursor = resume ?? newest;
    const closed = new Promise<void>((resolve) => stream.onClose(resolve));
    try {
      while (!stream.closed) {
        const rows = await store.query({ after: cursor, limit: STREAM_PAGE });
        for (const row of rows) {
          cursor = row.seq;
          const rec = parseRecord(row);
          if (matches(rec, q) && !stream.send('decision', summarize(rec), rec.seq))
            await stream.drained();
          if (stream.closed) return;
        }
        // Filtered out records still move the client's position: a reconnect skips them.
        if (rows.length < STREAM_PAGE) await Promise.race([feed.next(), closed]);
      }
    } catch (err) {
      req.log.error({ err }, 'the decision stream failed');
      stream.send('error', { error: 'reading the audit log failed; reconnect to resume' });
      stream.close();
    }
  });

  app.get('/v1/console/decisions', view, async (req, reply) => {
    const q = parsed(listQuery, req.query, reply);
    if (!q) return;
    const before = q.before ?? (await newestSeq(store)) + 1;
    const page = await scanBack(store, q, before, q.limit, MAX_SCAN);
    return { decisions: page.records.map(summarize), next: page.next };
  });

  app.get<{ Params: { id: string } }>('/v1/console/decisions/:id', view, async (req, reply) => {
    const row = await store.byDecisionId(req.params.id);
    if (!row) return reply.code(404).send({ error: `no decision ${req.params.id} in the log` });
    const record = parseRecord(row);
    const set = await versions.get(record.policyVersion);
    const policies: (PolicyLocation | { id: string; version: string })[] = [];
    for (const id of new Set(record.reasons.map((r) => r.policy))) {
      const meta = typeof set === 'string' ? undefined : set.policies.get(id);
      policies.push(
        meta && typeof set !== 'string' ? locate(set, meta) : { id, version: record.policyVersion },
      );
    }
    let parent: DecisionSummary | null = null;
    if (record.parent) {
      const p = await store.byDecisionId(record.parent);
      if (p) parent = summarize(parseRecord(p));
    }
    let sessionRecords: AuditRecord[] = [];
    if (record.session)
      sessionRecords = (await store.query({ session: record.session, limit: SESSION_LIMIT })).map(
        parseRecord,
      );
    // Usage records name their decision as parent but may carry no session: look just after it.
    const near = (await store.query({ after: record.seq, limit: 50 })).map(parseRecord);
    const children = new Map<string, DecisionSummary>();
    for (const r of [...sessionRecords, ...near])
      if (r.parent === record.id) children.set(r.id, summarize(r));
    return {
      record,
      policies,
      parent,
      children: [...children.values()].sort((a, b) => a.seq - b.seq),
      session: record.session
        ? { id: record.session, decisions: sessionRecords.map(summarize) }
        : null,
    };
  });

  app.get<{ Params: { id: string } }>(
    '/v1/console/decisions/:id/proof',
    view,
    async (req, reply) => {
      if (!(await permitted(decisions, req, reply, 'readAudit', controlPlane('audit')))) return;
      let bundle;
      try {
        bundle = await audit.proof(req.params.id);
      } catch (e) {
        if ((e as { statusCode?: unknown }).statusCode === 503)
          return reply.code(503).send({ error: (e as Error).message });
        throw e;
      }
      if (!bundle)
        return reply.code(404).send({ error: `no decision ${req.params.id} in the log` });
      const key = parseVerifierKey(bundle.verifierKey);
      return {
        decisionId: bundle.decisionId,
        index: bundle.index,
        treeSize: bundle.treeSize,
        recordText: canonical(bundle.record),
        leafHash: bundle.leafHash,
        inclusion: bundle.inclusion,
        checkpoint: splitCheckpoint(bundle.checkpoint),
        key: {
          verifierKey: bundle.verifierKey,
          name: key.name,
          id: key.id.toString('hex'),
          publicKey: key.publicKey.toString('base64'),
          algorithm: 'Ed25519',
        },
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/console/policies/:id/source',
    view,
    async (req, reply) => {
      const q = parsed(sourceQuery, req.query, reply);
      if (!q) return;
      const set = await versions.get(q.version);
      if (typeof set === 'string') return reply.code(404).send({ error: set });
      const meta = set.policies.get(req.params.id);
      if (!meta)
        return reply
          .code(404)
          .send({ error: `no policy ${req.params.id} in policy version ${set.version}` });
      return sourceInfo(set, meta);
    },
  );
}
