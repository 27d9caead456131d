// The decision service every adapter calls: the engine, plus what must happen around each
// decision (metrics, a structured log line without input content). The audit log hooks in here.

import type { Logger } from 'pino';
import type { Engine } from '../core/engine.js';
import type { ActionRequest, Decision } from '../core/types.js';
import type { Metrics } from './metrics.js';

export class DecisionService {
  constructor(
    readonly engine: Engine,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  async decide(request: ActionRequest): Promise<Decision> {
    const started = process.hrtime.bigint();
    const d = await this.engine.decide(request);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const pep = request.pep ?? 'http';
    this.metrics.decisions.inc({ decision: d.decision, pep });
    this.metrics.latency.observe(seconds);
    // Identifiers only: never input, content or caller context unless configured otherwise.
    this.log.info(
      {
        decisionId: d.decisionId,
        pep,
        agent: request.agent,
        user: request.user,
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
