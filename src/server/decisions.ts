// The decision service every adapter calls: the engine, the audit log (a decision is returned
// only once its record is durably stored), metrics, and a structured log line without input
// content. If the audit log cannot take the record, the answer is deny.

import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { DecisionTrace, Engine, PinnedFacts } from '../core/engine.js';
import { sessionKey, type SessionStore } from '../core/stages/session.js';
import { cordonReason } from '../core/evaluate.js';
import type { ActionRequest, Decision } from '../core/types.js';
import type { Metrics } from './metrics.js';

export class DecisionService {
  constructor(
    readonly engine: Engine,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    readonly audit?: AuditLog,
    /** Where the session stage's history comes from: each decision is appended to it. */
    private readonly sessions?: SessionStore,
  ) {}

  /** The decision joins its session's history (labels only from what was allowed). */
  private async remember(trace: DecisionTrace, d: Decision): Promise<void> {
    const { request } = trace;
    if (!this.sessions || !request.session || !trace.agent) return;
    await this.sessions.append(sessionKey(trace.agent, request.session), {
      decisionId: d.decisionId,
      time: trace.time.getTime(),
      action: request.action,
      resource: `${request.resource.type}::${JSON.stringify(request.resource.id)}`,
      outcome: d.decision,
      labels: d.decision === 'allow' ? trace.labels : [],
      destructive: trace.destructive,
    });
  }

  /** `pinned` is for facts Cordon itself established elsewhere (an approval given by a human). */
  async decide(request: ActionRequest, pinned?: PinnedFacts): Promise<Decision> {
    const started = process.hrtime.bigint();
    const trace = await this.engine.trace(request, pinned);
    let d = trace.decision;
    if (this.audit) {
      try {
        await this.audit.append(trace);
      } catch (e) {
        this.log.error({ err: e, decisionId: d.decisionId }, 'audit append failed; denying');
        this.metrics.auditFailures.inc();
        d = {
          ...d,
          decision: 'deny',
          reasons: [
            cordonReason(
              'audit-unavailable',
              undefined,
              'the decision could not be recorded, so it is denied',
            ),
          ],
          obligations: [],
        };
      }
    }
    try {
      await this.remember(trace, d);
    } catch (e) {
      // Session history feeds later decisions; losing it would loosen them. Fail closed.
      this.log.error(
        { err: e, decisionId: d.decisionId },
        'session history append failed; denying',
      );
      d = {
        ...d,
        decision: 'deny',
        reasons: [
          cordonReason(
            'session-unavailable',
            undefined,
            'the session history could not be updated, so the decision is denied',
          ),
        ],
        obligations: [],
      };
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const pep = request.pep ?? 'http';
    this.metrics.decisions.inc({ decision: d.decision, pep });
    this.metrics.latency.observe(seconds);
    // Identifiers only: never input, content or caller context.
    this.log.info(
      {
        decisionId: d.decisionId,
        pep,
        agent: trace.agent,
        user: trace.user,
        session: request.session,
        action: request.action,
        resource: `${request.resource.type}::${request.resource.id}`,
        decision: d.decision,
        policies: d.reasons.map((r) => r.policy),
        policyVersion: d.policyVersion,
      },
      'decision',
    );
    return d;
  }
}
