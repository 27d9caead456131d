// The console's agents page (docs/api.md "Console API", Agents): every agent entities.json lists
// or the recent log names, with its recent decisions, risk over time computed from the recorded
// decisions, its baseline (when the person may read it) and its isolation states. Reads only:
// restrict, isolate and release use the isolation routes the CLI uses.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDurationSeconds } from '../../../cli/durations.js';
import type { AuditRecord } from '../../../audit/record.js';
import type { AuditReader } from '../../../store/audit-port.js';
import { authorizeControl, ControlDenied, controlPlane } from '../control.js';
import { guarded, parsed, type ConsoleContext } from './common.js';
import { newestSeq, parseRecord, scanBack, summarize } from './records.js';

/** Records looked at per request, newest first: the window may hold more. */
const MAX_RECORDS = 20_000;
const MAX_WINDOW_SECONDS = 30 * 86_400;

const windowField = z
  .string()
  .default('24h')
  .transform((w, ctx) => {
    const s = parseDurationSeconds(w);
    if (!s || s > MAX_WINDOW_SECONDS) {
      ctx.addIssue({ code: 'custom', message: 'window is a duration up to 30d, like 24h' });
      return z.NEVER;
    }
    return s;
  });
const listQuery = z.strictObject({ window: windowField });
const agentQuery = z.strictObject({
  window: windowField,
  buckets: z.coerce.number().int().min(1).max(200).default(24),
});

/** The decisions of the last `seconds` (at most MAX_RECORDS of the newest), oldest first. */
async function recentDecisions(
  store: AuditReader,
  seconds: number,
  now: number,
): Promise<AuditRecord[]> {
  const since = new Date(now - seconds * 1000).toISOString();
  const after = Math.max(-1, (await newestSeq(store)) - MAX_RECORDS);
  return (await store.query({ since, after }))
    .map(parseRecord)
    .filter((r) => !r.kind && r.agent !== undefined);
}

export function registerAgentRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { decisions } = c;
  const view = guarded(decisions, 'viewAgents', controlPlane('agents'));
  const store = decisions.audit?.store;

  app.get('/v1/console/agents', view, async (req, reply) => {
    const q = parsed(listQuery, req.query, reply);
    if (!q) return;
    const entities = decisions.engine.policies.store;
    const rows = new Map<
      string,
      {
        id: string;
        listed: boolean;
        attrs?: Record<string, unknown>;
        lastSeen?: string;
        counts: { allow: number; deny: number; require_approval: number };
        maxRisk?: number;
      }
    >();
    const row = (id: string) => {
      let r = rows.get(id);
      if (!r) {
        const e = entities.get('Agent', id);
        r = {
          id,
          listed: !!e,
          ...(e ? { attrs: e.attrs } : {}),
          counts: { allow: 0, deny: 0, require_approval: 0 },
        };
        rows.set(id, r);
      }
      return r;
    };
    for (const ref of entities.ofType('Agent')) row(ref.id);
    for (const rec of store ? await recentDecisions(store, q.window, Date.now()) : []) {
      const r = row(rec.agent!);
      r.counts[rec.decision]++;
      r.lastSeen = rec.time;
      const score = rec.facts?.risk?.score;
      if (typeof score === 'number') r.maxRisk = Math.max(r.maxRisk ?? 0, score);
    }
    return {
      agents: [...rows.values()]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((r) => ({ ...r, isolation: c.isolation?.list(r.id) ?? [] })),
    };
  });

  app.get<{ Params: { id: string } }>('/v1/console/agents/:id', view, async (req, reply) => {
    const q = parsed(agentQuery, req.query, reply);
    if (!q) return;
    const { id } = req.params;
    const entity = decisions.engine.policies.store.get('Agent', id);
    const now = Date.now();
    const records = store ? await recentDecisions(store, q.window, now) : [];
    const mine = records.filter((r) => r.agent === id);
    if (!entity && mine.length === 0)
      return reply.code(404).send({
        error: `agent ${id} is not listed in entities.json and has no decisions in the window`,
      });
    const recent = store
      ? (
          await scanBack(
            store,
            { agent: id, kind: 'decision' },
            (await newestSeq(store)) + 1,
            50,
            MAX_RECORDS,
          )
        ).records.map(summarize)
      : [];
    // Equal slices of the window, oldest first; empty slices are kept so the chart has its axis.
    const span = (q.window * 1000) / q.buckets;
    const start = now - q.window * 1000;
    const buckets = Array.from({ length: q.buckets }, (_, i) => ({
      start: new Date(start + i * span).toISOString(),
      count: 0,
      deny: 0,
      maxScore: 0,
      sum: 0,
    }));
    for (const r of mine) {
      const i = Math.min(q.buckets - 1, Math.floor((Date.parse(r.time) - start) / span));
      const b = buckets[i];
      if (!b) continue;
      const score = r.facts?.risk?.score ?? 0;
      b.count++;
      if (r.decision === 'deny') b.deny++;
      b.maxScore = Math.max(b.maxScore, score);
      b.sum += score;
    }
    let baseline: unknown = null;
    if (c.baselines && entity) {
      try {
        await authorizeControl(decisions, req.caller, 'readBaseline', { type: 'Agent', id });
        const classes = entity.parents.filter((p) => p.type === 'AgentClass').map((p) => p.id);
        baseline = await c.baselines.summary(id, classes);
      } catch (e) {
        // Refused, or the baseline store failing: the page shows the rest.
        if (!(e instanceof ControlDenied)) req.log.warn({ err: e }, 'baseline unavailable');
      }
    }
    return {
      id,
      listed: !!entity,
      ...(entity ? { attrs: entity.attrs } : {}),
      recent,
      risk: buckets.map(({ sum, ...b }) => ({
        ...b,
        meanScore: b.count ? Math.round((sum / b.count) * 100) / 100 : 0,
      })),
      baseline,
      isolation: c.isolation?.list(id) ?? [],
    };
  });
}
