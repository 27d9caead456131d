// The approval workflow around the store: a require_approval decision opens (or joins) a
// request, a human answers it, the retried identical request claims the grant. Waiters are
// woken when a request is answered; a webhook is told when one is opened or answered.

import { EventEmitter } from 'node:events';
import { v7 as uuidv7 } from 'uuid';
import type { DecisionTrace } from '../core/engine.js';
import { approvalBinding, type ApprovalGrant } from '../core/stages/approval.js';
import type { Approval, ApprovalStatus, ApprovalStore, NewApproval } from './approval.js';

export type ApprovalEvent = 'approval.requested' | 'approval.approved' | 'approval.denied';

export interface ApprovalTiming {
  /** How long a request waits for an answer. */
  pendingSeconds: number;
  /** How long an approval can be used once given. */
  grantSeconds: number;
  /** The most uses one approval may be given (1 unless the approver asks for more). */
  maxUses: number;
}

export interface ApprovalServiceOptions extends ApprovalTiming {
  store: ApprovalStore;
  notify?: (event: ApprovalEvent, approval: Approval) => void;
  clock?: () => Date;
}

export class ApprovalError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export class ApprovalService {
  private readonly settled = new EventEmitter();
  private readonly clock: () => Date;

  constructor(private readonly o: ApprovalServiceOptions) {
    this.clock = o.clock ?? (() => new Date());
    this.settled.setMaxListeners(0); // one per long-poll waiter
  }

  /**
   * The request a require_approval decision waits on: the open one for this binding, or a new
   * one. A recent denial is returned as it is: a human said no, and asking again does not
   * reopen the question until the pending period has passed.
   */
  async openFor(trace: DecisionTrace): Promise<Approval> {
    const now = this.clock();
    if (!trace.agent) throw new Error('an approval needs the agent that asked (none was resolved)');
    const binding = approvalBinding({
      agent: trace.agent,
      user: trace.user,
      request: trace.request,
    });
    const { request, decision } = trace;
    const a: NewApproval = {
      id: uuidv7(),
      binding,
      agent: trace.agent,
      request: { action: request.action, resource: request.resource },
      decisionId: decision.decisionId,
      policyVersion: decision.policyVersion,
      reasons: decision.reasons,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.o.pendingSeconds * 1000).toISOString(),
    };
    if (trace.user !== undefined) a.user = trace.user;
    if (request.session !== undefined) a.session = request.session;
    if (request.input !== undefined) a.request.input = request.input;
    if (request.context !== undefined) a.request.context = request.context;
    // Looked up and opened in one step: concurrent retries of one call join one request.
    const opened = await this.o.store.openOrJoin(a, now, this.o.pendingSeconds * 1000);
    if (opened.id === a.id) this.o.notify?.('approval.requested', opened);
    return opened;
  }

  /** Takes one use of the grant a decision relied on. */
  claim(grant: ApprovalGrant): Promise<boolean> {
    return this.o.store.consume(grant.id, this.clock());
  }

  get(id: string): Promise<Approval | undefined> {
    return this.o.store.get(id, this.clock());
  }

  list(filter: { status?: ApprovalStatus; limit: number }): Promise<Approval[]> {
    return this.o.store.list(filter, this.clock());
  }

  /** The request once it is no longer pending, or as it stands after `ms`. */
  async wait(id: string, ms: number): Promise<Approval | undefined> {
    const first = await this.get(id);
    if (!first || first.status !== 'pending' || ms <= 0) return first;
    const remaining = Date.parse(first.expiresAt) - this.clock().getTime();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.settled.off(id, done);
        resolve();
      };
      // Wake at the deadline or at expiry, whichever comes first, to report 'expired'.
      const timer = setTimeout(done, Math.max(0, Math.min(ms, remaining + 5)));
      this.settled.on(id, done);
    });
    return this.get(id);
  }

  /** Records a human's answer; the caller has already checked the approver may give it. */
  async settle(
    id: string,
    answer: { verdict: 'approved' | 'denied'; approver: string; note?: string; uses?: number },
  ): Promise<Approval> {
    const uses = answer.uses ?? 1;
    if (!Number.isInteger(uses) || uses < 1 || uses > this.o.maxUses)
      throw new ApprovalError(400, `uses must be an integer from 1 to ${this.o.maxUses}`);
    const at = this.clock();
    const ok = await this.o.store.settle(id, {
      ...answer,
      at,
      uses,
      grantExpiresAt: new Date(at.getTime() + this.o.grantSeconds * 1000),
    });
    const now = await this.get(id);
    if (!now) throw new ApprovalError(404, `no approval request ${id}`);
    if (!ok) throw new ApprovalError(409, `approval request ${id} is ${now.status}, not pending`);
    this.settled.emit(id);
    this.o.notify?.(answer.verdict === 'approved' ? 'approval.approved' : 'approval.denied', now);
    return now;
  }
}
