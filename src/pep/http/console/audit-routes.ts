// The console's audit page (docs/api.md "Console API", Audit): the signed checkpoints, a full
// verification of the log with progress over server-sent events, and an export (raw JSON lines
// or OCSF) as a download. Verification reads the log at its own pace, yielding to the event loop
// between pages, so decisions are not held up while it runs; one runs at a time per server.

import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseVerifierKey } from '../../../audit/note.js';
import { toOcsf } from '../../../audit/ocsf.js';
import { verifyStore } from '../../../audit/verify.js';
import type { AuditReader, AuditService, StoredRecord } from '../../../store/audit-port.js';
import { controlPlane } from '../control.js';
import { guarded, parsed, sinceOf, type ConsoleContext } from './common.js';
import { EventStream } from './sse.js';

const PRODUCT_VERSION = '0.1.0';
const PROGRESS_EVERY = 1000;

const checkpointsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const exportQuery = z.strictObject({
  format: z.enum(['jsonl', 'ocsf']).default('jsonl'),
  since: z.string().min(1).optional(),
});

/** The log as verifyStore reads it, handing out records a page at a time with pauses between. */
function pacedReader(
  store: AuditReader,
  onRecord: (done: number) => void,
  stopped: () => boolean,
): AuditReader {
  async function* iterate(from?: number): AsyncGenerator<StoredRecord> {
    let n = 0;
    for await (const row of store.iterate(from)) {
      if (stopped()) throw new Error('the client went away');
      yield row;
      if (++n % PROGRESS_EVERY === 0) {
        onRecord(n);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  return {
    getMeta: (k) => store.getMeta(k),
    count: () => store.count(),
    leaves: () => store.leaves(),
    iterate,
    byDecisionId: (id) => store.byDecisionId(id),
    query: (q) => store.query(q),
    tail: (n) => store.tail(n),
    checkpoints: () => store.checkpoints(),
    checkpointAt: (s) => store.checkpointAt(s),
    latestCheckpoint: () => store.latestCheckpoint(),
    policySet: (v) => store.policySet(v),
    close: () => undefined,
  };
}

export function registerAuditConsoleRoutes(
  app: FastifyInstance,
  c: ConsoleContext,
  audit: AuditService,
): void {
  const read = guarded(c.decisions, 'readAudit', controlPlane('audit'));
  const verify = guarded(c.decisions, 'verifyAudit', controlPlane('audit'));
  let verifying = false;

  app.get('/v1/console/audit/checkpoints', read, async (req, reply) => {
    const q = parsed(checkpointsQuery, req.query, reply);
    if (!q) return;
    const all = await audit.store.checkpoints();
    return {
      verifierKey: audit.verifierKey,
      checkpoints: all
        .slice(-q.limit)
        .reverse()
        .map(({ size, time, note }) => ({ size, time, note })),
    };
  });

  app.get('/v1/console/audit/verify', verify, async (req, reply) => {
    if (verifying)
      return reply.code(409).send({ error: 'a verification is running already: try again later' });
    verifying = true;
    try {
      const total = await audit.store.count();
      const stream = new EventStream(req, reply, {
        ...(c.heartbeatMs ? { heartbeatMs: c.heartbeatMs } : {}),
      });
      stream.send('progress', { records: 0, total });
      const reader = pacedReader(
        audit.store,
        (records) => stream.send('progress', { records, total }),
        () => stream.closed,
      );
      try {
        const report = await verifyStore(reader, parseVerifierKey(audit.verifierKey), audit.origin);
        stream.send('progress', { records: report.records, total });
        stream.send('done', report);
      } catch (err) {
        if (!stream.closed) {
          req.log.error({ err }, 'audit verification failed');
          stream.send('done', { ok: false, problem: { message: (err as Error).message } });
        }
      }
      // A finished stream must not make the browser start another verification: it is closed,
      // and the page does not reconnect after `done`.
      stream.close();
    } finally {
      verifying = false;
    }
  });

  app.get('/v1/console/audit/export', read, async (req, reply) => {
    const q = parsed(exportQuery, req.query, reply);
    if (!q) return;
    let since: string | undefined;
    try {
      since = q.since === undefined ? undefined : sinceOf(q.since);
    } catch (e) {
      return reply.code(400).send({ error: `since: ${(e as Error).message}` });
    }
    const logName = audit.origin;
    const store = audit.store;
    const name = `cordon-audit-${new Date().toISOString().slice(0, 10)}.${q.format}.jsonl`;
    async function* lines(): AsyncGenerator<string> {
      for (let after = -1; ;) {
        const rows = await store.query({ ...(since ? { since } : {}), after, limit: 1000 });
        let chunk = '';
        for (const row of rows)
          chunk += `${
            q!.format === 'jsonl'
              ? row.record
              : JSON.stringify(
                  toOcsf(JSON.parse(row.record), { version: PRODUCT_VERSION, logName }),
                )
          }\n`;
        if (chunk) yield chunk;
        if (rows.length < 1000) return;
        after = rows.at(-1)!.seq;
      }
    }
    return reply
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(lines()));
  });
}
