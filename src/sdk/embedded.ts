// The embedded decider: the whole decision point in this process, as `cordon serve` runs it
// (runtime/pdp.ts: policies, delegation tokens, approvals, sessions, isolation, risk, the audit
// log in a data directory), without its HTTP server. Every decision is recorded before guard()
// acts on it. Loading this module does not load fastify; opening one loads the configured
// stores (SQLite in the data directory, or PostgreSQL when cordon.yaml names it).

import { pino, type Logger } from 'pino';
import type { ActionRequest, Decision } from '../core/types.js';
import { loadConfig, parseConfig, type CordonConfig } from '../config/config.js';
import { failureFacts, failureTrace } from '../decision/failure.js';
import { withResultAction } from '../decision/result-action.js';
import { openPdp, type Pdp } from '../runtime/pdp.js';
import type { Approval, ApprovalStatus } from '../approval/approval.js';
import { answerApproval } from '../approval/answer.js';
import type { Decider } from './guard.js';
import { withIdentity, type IdentityDefaults } from './identity.js';

export interface EmbeddedOptions extends IdentityDefaults {
  /** A cordon.yaml (the same file `cordon serve --config` reads); the options below win. */
  config?: string;
  /** The policy directory (or signed bundle), as `cordon serve --policies`. */
  policies?: string;
  /** The data directory: audit log, approvals, sessions (default ./.cordon). One process at a time. */
  data?: string;
  /** Record decisions in the tamper-evident audit log (default: as configured, on). */
  audit?: boolean;
  /** Follow policy edits (default false here: a library does not watch files unasked). */
  watch?: boolean;
  /** Where the decision point logs (default: silent; identifiers only, never input). */
  log?: Logger;
}

export class EmbeddedDecider implements Decider {
  private constructor(
    /** The decision point itself: policies, decision service, approvals, audit log. */
    readonly pdp: Pdp,
    private readonly defaults: IdentityDefaults,
    private readonly log: Logger,
  ) {}

  static async open(o: EmbeddedOptions = {}): Promise<EmbeddedDecider> {
    const file = await loadConfig(o.config);
    const config: CordonConfig = parseConfig(
      {
        ...file,
        ...(o.policies ? { policies: o.policies } : {}),
        ...(o.data ? { data: o.data } : {}),
        watch: o.watch ?? (o.config ? file.watch : false),
        ...(o.audit !== undefined ? { audit: { ...file.audit, enabled: o.audit } } : {}),
      },
      o.config ? `${o.config} with the SDK options` : 'the SDK options',
    );
    const log = o.log ?? pino({ level: 'silent' });
    const pdp = await openPdp(config, log);
    const { agent, user, token, session } = o;
    return new EmbeddedDecider(pdp, { agent, user, token, session }, log);
  }

  decide(request: ActionRequest): Promise<Decision> {
    // The host process is the enforcement point here, as the MCP gateway is for the tools it
    // builds: the resource (and its set membership, e.g. a Tool in McpServer::"erp") comes from
    // its code, not from the arguments a model wrote, so its parents count. Over HTTP they count
    // only for callers named in resources.trustedPeps.
    const trusted = request.trustedFor ?? [request.resource.type];
    const decisions = this.pdp.decisions;
    return decisions
      .decide({ ...withIdentity(request, this.defaults), trustedFor: trusted })
      .then((d) => withResultAction(decisions.engine.policies, request, d));
  }

  async awaitApproval(id: string, timeoutMs: number): Promise<void> {
    await this.pdp.approvals.wait(id, timeoutMs);
  }

  /**
   * A person answers an approval request (there is no HTTP API in this process to do it through).
   * `approver` is a user in entities.json acting in person; policy decides whether they may
   * (action `approve`, docs/approvals.md), and the answer is itself an audited decision.
   */
  async answer(
    id: string,
    verdict: 'approved' | 'denied',
    approver: string,
    o: { note?: string; uses?: number } = {},
  ): Promise<Approval> {
    const { approval } = await answerApproval(this.pdp.decisions, this.pdp.approvals, {
      id,
      verdict,
      approver,
      via: 'sdk',
      ...o,
    });
    return approval;
  }

  /** Approval requests, newest first (what waits for a person: `status: 'pending'`). */
  listApprovals(filter: { status?: ApprovalStatus; limit?: number } = {}): Promise<Approval[]> {
    return this.pdp.approvals.list({ limit: 100, ...filter });
  }

  /** An audit event (kind "failure", parent: the decision) saying the allowed call threw. */
  async recordFailure(request: ActionRequest, decision: Decision, error: unknown): Promise<void> {
    const audit = this.pdp.audit;
    if (!audit) return;
    try {
      const r = withIdentity(request, this.defaults);
      await audit.append(
        failureTrace(this.pdp.policies.current(), r, decision, failureFacts(error)),
      );
    } catch (e) {
      this.log.error({ err: e, decisionId: decision.decisionId }, 'failure record failed');
    }
  }

  /** Stops following policies and closes the stores and the audit log (flushing it). */
  close(): Promise<void> {
    return this.pdp.close();
  }
}
