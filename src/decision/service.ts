// The decision service every adapter calls: the engine, the audit log, metrics, and a
// structured log line without input content. Every decision is returned only once its record is
// written; `decide` also waits until it is durable (with `audit.sync: full`, past power loss).
// If the audit log cannot take the record, the answer is deny. A request the record could not
// hold (a lone surrogate, 1e999, extreme nesting) is the caller's error: each entry point
// refuses it with a RequestError (an HTTP 400) before deciding, never as a failed audit log.
//
// A gateway that forwards the action itself may use `decideToAct`: an allow comes back once its
// record is written (it survives a crash of Cordon), with a promise for the fsync that makes it
// survive power loss too. The gateway starts the action and holds the result until then, so the
// disk wait overlaps the upstream call instead of preceding it.

import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import type { AuditService } from '../store/audit-port.js';
import type { DecisionTrace, Engine, EvaluationMode, PinnedFacts } from '../core/engine.js';
import {
  eventResource,
  historyKey,
  sessionKey,
  type SessionEvent,
  type SessionStore,
} from '../core/stages/session.js';
import { cordonReason } from '../core/evaluate.js';
import { checkRecordable } from '../core/request.js';
import type { StandInUser } from '../core/stages/identity.js';
import type { ActionRequest, Decision } from '../core/types.js';
import type { SpanAttributes, TracerPort } from '../core/tracer.js';
import type { Metrics } from './metrics.js';
import type { ApprovalService } from '../approval/service.js';
import type { IsolationResponder } from '../isolation/responses.js';

/**
 * Runs once a decision is final and recorded (learning a baseline). It cannot change the
 * outcome; it must not block (queue work and return); a throw is logged, nothing is refused.
 */
export interface AfterEffect {
  readonly name: string;
  /** `probe`: a visibility check (a listing), not an action that happens. */
  decided(trace: DecisionTrace, decision: Decision, probe: boolean): void;
}

export class DecisionService {
  /** Told about every final decision, in order (see AfterEffect). */
  readonly afterEffects: AfterEffect[] = [];
  /**
   * Spans for every decision and its steps (src/telemetry/); none by default, and then the
   * decision path pays one branch per step. PEPs read it to span their own calls.
   */
  tracer: TracerPort | undefined;

  constructor(
    readonly engine: Engine,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    readonly audit?: AuditService,
    /** Where the session stage's history comes from: each decision is appended to it. */
    private readonly sessions?: SessionStore,
    /** Opens approval requests for require_approval and claims the grants decisions use. */
    readonly approvals?: ApprovalService,
    /** Turns restrict/isolate obligations into isolation states (src/isolation/responses.ts). */
    private readonly isolation?: IsolationResponder,
  ) {}

  /**
   * The decision joins its session's history (labels only from what was allowed); labels also
   * join the agent's and the user's history, which outlives the session (the label window).
   */
  private async remember(trace: DecisionTrace, d: Decision): Promise<void> {
    const { request } = trace;
    if (!this.sessions || !trace.agent) return;
    const event: SessionEvent = {
      decisionId: d.decisionId,
      time: trace.time.getTime(),
      action: request.action,
      resource: eventResource(request.resource),
      outcome: d.decision,
      labels: d.decision === 'allow' ? trace.labels : [],
      destructive: trace.destructive,
    };
    if (d.reasons.some((r) => r.policy === 'cordon/approval-denied')) event.approvalDenied = true;
    if (request.session)
      await this.sessions.append(sessionKey(trace.agent, request.session), event);
    if (event.labels.length === 0) return;
    await this.sessions.append(historyKey('agent', trace.agent), event);
    if (trace.user) await this.sessions.append(historyKey('user', trace.user), event);
  }

  /** `pinned` is for facts a trusted in-process caller established (tests, replay). */
  decide(request: ActionRequest, pinned?: PinnedFacts): Promise<Decision> {
    if (this.tracer) return this.traced(request, () => this.decideNow(request, pinned), same);
    return this.decideNow(request, pinned);
  }

  private async decideNow(request: ActionRequest, pinned?: PinnedFacts): Promise<Decision> {
    checkRecordable(request);
    const started = process.hrtime.bigint();
    return this.finish(await this.engine.trace(request, pinned), started);
  }

  /**
   * A visibility check (tools/list, the models list): decided and recorded like any decision,
   * but it never opens an approval request (listing must not page a human) nor uses a grant.
   * With `unknownInput`, it allows what some input could be allowed (the call is decided again).
   */
  decideVisibility(request: ActionRequest, mode?: EvaluationMode): Promise<Decision> {
    if (this.tracer) return this.traced(request, () => this.visibilityNow(request, mode), same);
    return this.visibilityNow(request, mode);
  }

  private async visibilityNow(request: ActionRequest, mode?: EvaluationMode): Promise<Decision> {
    checkRecordable(request);
    const started = process.hrtime.bigint();
    return this.finish(await this.engine.trace(request, undefined, mode), started, true);
  }

  /**
   * For a PEP that performs the action: the decision, with the agent and user as resolved (from
   * the token when there was one), once its record is written. Hand the action's result to the
   * agent only after `durable` resolves; if it rejects, the record was lost: refuse instead.
   */
  decideToAct(request: ActionRequest): Promise<ActingDecision> {
    if (this.tracer)
      return this.traced(
        request,
        () => this.toActNow(request),
        (a) => a.decision,
      );
    return this.toActNow(request);
  }

  private async toActNow(request: ActionRequest): Promise<ActingDecision> {
    checkRecordable(request);
    const started = process.hrtime.bigint();
    const trace = await this.engine.trace(request);
    const { decision, durable } = await this.settle(trace, started, false, true);
    return { decision, agent: trace.agent, user: trace.user, trace, durable };
  }

  /**
   * Records what a model call used, after it finished, as its own record in the log (kind
   * "usage", parent: the decision). Not a decision: a failure is logged, nothing is refused.
   */
  async recordUsage(trace: DecisionTrace, tokens: number): Promise<void> {
    if (!this.audit) return;
    const { input: _input, content: _content, ...request } = trace.request;
    const { approval: _approval, ...decision } = trace.decision;
    try {
      await this.audit.append({
        ...trace,
        time: new Date(),
        request: { ...request, parent: trace.decision.decisionId },
        decision: { ...decision, decisionId: uuidv7() },
        kind: 'usage',
        usage: { tokens },
      });
    } catch (e) {
      this.log.error(
        { err: e, decisionId: trace.decision.decisionId, tokens },
        'usage record failed',
      );
    }
  }

  /** A user acting in person, with no agent (an approver answering an approval request). */
  decideHuman(request: ActionRequest & { user: string }, standIn?: StandInUser): Promise<Decision> {
    if (this.tracer) return this.traced(request, () => this.humanNow(request, standIn), same);
    return this.humanNow(request, standIn);
  }

  private async humanNow(
    request: ActionRequest & { user: string },
    standIn?: StandInUser,
  ): Promise<Decision> {
    checkRecordable(request);
    const started = process.hrtime.bigint();
    return this.finish(await this.engine.traceHuman(request, standIn), started);
  }

  /** One decision as a span: what was asked, then its id and outcome (docs/telemetry.md). */
  private traced<R>(request: ActionRequest, run: () => Promise<R>, pick: (r: R) => Decision) {
    return this.tracer!.span(
      'cordon.decide',
      { attributes: requestAttributes(request) },
      async (span): Promise<R> => {
        const r = await run();
        const d = pick(r);
        span.set({
          'cordon.decision.id': d.decisionId,
          'cordon.decision.outcome': d.decision,
          'cordon.decision.policies': d.reasons.map((x) => x.policy).join(','),
          'cordon.policy.version': d.policyVersion,
          'cordon.risk.level': d.risk.level,
        });
        return r;
      },
    );
  }

  /**
   * An allowed decision that relied on an approval uses it up (atomically: a grant for one use
   * cannot let two retries through); a require_approval decision opens a request for a human.
   */
  private async approvalStep(trace: DecisionTrace, d: Decision): Promise<Decision> {
    if (!this.approvals) return d;
    try {
      if (d.decision === 'allow' && trace.approval) {
        if (await this.approvals.claim(trace.approval))
          return {
            ...d,
            approval: { id: trace.approval.id, status: 'used', by: trace.approval.by },
          };
        return refuse(
          d,
          'approval-used',
          `approval ${trace.approval.id} was used up or expired before this request could use it`,
        );
      }
      if (d.decision === 'require_approval' && trace.agent) {
        const a = await this.approvals.openFor(trace);
        if (a.status === 'denied') {
          return refuse(
            d,
            'approval-denied',
            `${a.approver} denied this exact request (approval ${a.id})${a.note ? `: ${a.note}` : ''}`,
          );
        }
        return { ...d, approval: { id: a.id, status: 'pending', expiresAt: a.expiresAt } };
      }
    } catch (e) {
      this.log.error({ err: e, decisionId: d.decisionId }, 'approval store failed; denying');
      return refuse(
        d,
        'approval-unavailable',
        'the approval store failed, so the request is denied',
      );
    }
    return d;
  }

  private async finish(trace: DecisionTrace, started: bigint, probe = false): Promise<Decision> {
    return (await this.settle(trace, started, probe, false)).decision;
  }

  /**
   * Records the decision. With `early`, an allow returns once its record is written and
   * `durable` settles with the fsync; anything else returns once the record is durable.
   */
  private async record(
    trace: DecisionTrace,
    d: Decision,
    early: boolean,
  ): Promise<{ decision: Decision; durable: Promise<void> }> {
    const done = { decision: d, durable: Promise.resolve() };
    if (!this.audit) return done;
    const failed = (e: unknown) => {
      this.log.error({ err: e, decisionId: d.decisionId }, 'audit append failed; denying');
      this.metrics.auditFailures.inc();
    };
    const staged = this.audit.appendStaged(trace);
    try {
      if (!(early && d.decision === 'allow')) {
        await staged.durable;
        return done;
      }
      await staged.written;
    } catch (e) {
      failed(e);
      const decision = refuse(
        d,
        'audit-unavailable',
        'the decision could not be recorded, so it is denied',
      );
      return { decision, durable: Promise.resolve() };
    }
    const durable = staged.durable.then(
      () => {},
      (e: unknown) => {
        failed(e);
        throw new AuditUnavailable(
          `the record of decision ${d.decisionId} could not be made durable, so its result is withheld`,
        );
      },
    );
    durable.catch(() => {}); // the PEP awaits it; never an unhandled rejection
    return { decision: d, durable };
  }

  private async settle(
    trace: DecisionTrace,
    started: bigint,
    probe: boolean,
    early: boolean,
  ): Promise<{ decision: Decision; durable: Promise<void> }> {
    const { request } = trace;
    // Each step a child span when tracing; otherwise the step alone (one branch, no closure).
    const t = this.tracer;
    let d = probe
      ? trace.decision
      : t
        ? await t.span('cordon.approval', {}, () => this.approvalStep(trace, trace.decision))
        : await this.approvalStep(trace, trace.decision);
    // The session first, then the record: the log must hold the outcome the PEP gets. (If the
    // record then fails, the session keeps a read that was refused: stricter, never looser.)
    try {
      const decided = d;
      if (t) await t.span('cordon.session.append', {}, () => this.remember(trace, decided));
      else await this.remember(trace, d);
    } catch (e) {
      // Session history feeds later decisions; losing it would loosen them. Fail closed.
      this.log.error(
        { err: e, decisionId: d.decisionId },
        'session history append failed; denying',
      );
      d = refuse(
        d,
        'session-unavailable',
        'the session history could not be updated, so the decision is denied',
      );
    }
    trace.decision = d;
    const final = d;
    const recorded = t
      ? await t.span('cordon.audit.append', {}, () => this.record(trace, final, early))
      : await this.record(trace, d, early);
    d = recorded.decision;
    for (const effect of this.afterEffects) {
      try {
        effect.decided(trace, d, probe);
      } catch (e) {
        this.log.error(
          { err: e, decisionId: d.decisionId, effect: effect.name },
          'after-effect failed',
        );
      }
    }
    // After the record (the isolation's record names this decision), before the answer: the
    // agent's next action meets the isolation. A listing never isolates anyone.
    if (!probe && this.isolation && d.obligations.length > 0) {
      try {
        await this.isolation(trace, d);
      } catch (e) {
        // The decision is a deny already; what is lost is the isolation of what comes next.
        this.log.error(
          { err: e, decisionId: d.decisionId, agent: trace.agent },
          'the isolation this decision calls for could not be applied',
        );
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const pep = request.pep ?? 'http';
    this.metrics.decisions.inc({ decision: d.decision, pep });
    if (d.risk.signals) {
      // Only where the risk engine ran: a score of 0 from no engine would skew the histogram.
      this.metrics.riskScore.observe(d.risk.score);
      for (const s of d.risk.signals) this.metrics.riskSignals.inc({ signal: s.name });
    }
    for (const s of d.shadow ?? [])
      this.metrics.shadow.inc({ policy: s.policy, would_change: String(s.wouldChange) });
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
    return recorded;
  }
}

const same = (d: Decision) => d;

/** What a decision span says about the request: identifiers only, never input or content. */
function requestAttributes(r: ActionRequest): SpanAttributes {
  const a: SpanAttributes = {
    'cordon.pep': r.pep ?? 'http',
    'cordon.action': r.action,
    'cordon.resource.type': r.resource.type,
    'cordon.resource.id': r.resource.id,
    'cordon.agent': r.agent,
    'cordon.user': r.user,
    'cordon.session': r.session,
    'cordon.decision.parent': r.parent,
  };
  // A decision on a tool call names the tool as the GenAI conventions do.
  if (r.action === 'invokeTool' && r.resource.type === 'Tool')
    a['gen_ai.tool.name'] = r.resource.id;
  return a;
}

/** The record of an allowed action could not be made durable: its result must not be used. */
export class AuditUnavailable extends Error {}

export interface ActingDecision {
  decision: Decision;
  agent?: string | undefined;
  user?: string | undefined;
  trace: DecisionTrace;
  /** Resolves once the record survives power loss; rejects (AuditUnavailable) if it cannot. */
  durable: Promise<void>;
}

/** Cordon's own deny: the decision stands recorded as refused, with why. */
function refuse(d: Decision, policy: string, message: string): Decision {
  const { approval: _approval, ...rest } = d;
  return {
    ...rest,
    decision: 'deny',
    reasons: [cordonReason(policy, undefined, message)],
    obligations: [],
  };
}
