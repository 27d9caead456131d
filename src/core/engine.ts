// decide(request): the policy decision point. Runs the enrichment stages, evaluates the
// acting agent and (when present) the on-behalf-of user with Cedar, and combines the verdicts.
// No I/O: policies come from a provider, state from stages; any error yields deny.

import { v7 as uuidv7 } from 'uuid';
import { pathFacts } from './path-facts.js';
import { fillDefaults } from './schema-info.js';
import {
  cordonReason,
  evaluate,
  UNKNOWN_INPUT_CONTEXT,
  type EvalInput,
  type Verdict,
} from './evaluate.js';
import type { SlicedEntity } from './entities.js';
import { destinationHost, inputDestinations, ipNet } from './destination.js';
import { initialFacts, runStage, type DecisionState, type Stage } from './pipeline.js';
import type { CompiledPolicySet, Subset } from './policy-set.js';
import { isolationMeasureFor, isolationReason, NOT_ISOLATED } from './isolation.js';
import { applyRiskTier, DEFAULT_RISK_TIERS, riskLevel, type RiskTiers } from './risk.js';
import type { ApprovalGrant } from './stages/approval.js';
import {
  directUserStage,
  identityStage,
  type StandInUser,
  type TokenVerifier,
} from './stages/identity.js';
import { contentStage, type ContentInspector } from './stages/content.js';
import { completeRedactions } from '../inspect/obligations.js';
import type { Inspector } from '../inspect/inspector.js';
import { resourceLabels } from './stages/session.js';
import type { TracerPort } from './tracer.js';
import type {
  ActionRequest,
  CordonFacts,
  Decision,
  Obligation,
  Outcome,
  PrincipalRole,
  Reason,
  Risk,
  ShadowResult,
} from './types.js';

export interface PolicyProvider {
  current(): CompiledPolicySet;
}

/**
 * How to evaluate. `unknownInput`: `context.input` is unknown (Cedar partial evaluation), for
 * listings made before any input exists: the decision is allow when some input could be
 * permitted, deny only when no input can be (see evaluate.ts).
 */
export interface EvaluationMode {
  unknownInput?: boolean;
  /**
   * Told of every evaluation of a principal as it is made (not of shadow variants):
   * `cordon policy explain` reads what each policy saw from it.
   */
  observe?: (input: EvalInput) => void;
}

/** Facts a trusted in-process caller pins (policy tests, replay); never reachable over HTTP. */
export type PinnedFacts = { [K in keyof CordonFacts]?: Partial<CordonFacts[K]> } & { time?: Date };

export interface DecisionTrace {
  decision: Decision;
  request: ActionRequest;
  /** The facts Cordon established (or a test pinned) for this decision. */
  facts: CordonFacts;
  time: Date;
  /** The policy set it was decided under. */
  set: CompiledPolicySet;
  /** The principals as resolved (from the request or its token), when they were. */
  agent?: string;
  user?: string;
  /** The labels of the resource as evaluated: reading it adds them to the session. */
  labels: string[];
  destructive: boolean;
  /** The human approval the decision used, if any (claimed by the decision service). */
  approval?: ApprovalGrant;
  /**
   * Set on records that are events, not decisions: "usage" (what a model call used; see
   * `usage`), "launch" (an agent started under compiled kernel rules) and "isolation" (an
   * isolation applied, released or expired: src/isolation/audit.ts) and "failure" (an allowed
   * SDK call whose function threw: src/sdk/embedded.ts). Replay skips them.
   */
  kind?: 'usage' | 'launch' | 'isolation' | 'failure';
  /** What the provider reported for the decision's model call (kind "usage"). */
  usage?: { tokens: number };
}

export interface EngineOptions {
  policies: PolicyProvider;
  /** Stages after identity, in order (session, content, baseline, risk …). */
  stages?: Stage[];
  riskTiers?: RiskTiers;
  clock?: () => Date;
  /** Verifies delegation tokens; without one, requests with a token are denied. */
  tokens?: TokenVerifier;
  /** Inspects request `content` (default: Cordon's detectors, built on first use). */
  inspector?: ContentInspector;
  /**
   * The risk stage (src/risk): run after every other stage and after pinned facts, so it scores
   * the final facts; skipped when a caller pins `risk`. Without one the score stays 0.
   */
  risk?: Stage;
  /** Spans for each stage and the Cedar evaluation (src/core/tracer.ts); none by default. */
  tracer?: TracerPort;
}

let defaultInspector: Inspector | undefined;
/** The default detectors, loaded on the first request with content (their rule sets are large). */
const lazyDefaultInspector: ContentInspector = {
  async inspect(text) {
    defaultInspector ??= new (await import('../inspect/inspector.js')).Inspector();
    return defaultInspector.inspect(text);
  },
};

const SEVERITY: Record<Outcome, number> = { allow: 0, require_approval: 1, deny: 2 };

/**
 * Resource attributes that follow from the id, and win over what a caller says: a file's path;
 * a destination's host (normalized as the egress proxy connects to it: `0.0.0.0` is loopback,
 * `::ffff:a00:1` is 10.0.0.1) and port, and `ip` when the host is an address (so policies can
 * test ranges with `resource.ip.isInRange(ip("10.0.0.0/8"))`, which strict validation accepts).
 * Throws for a destination host that is neither an address nor a name.
 */
export function derivedAttrs(type: string, id: string): Record<string, unknown> {
  if (type === 'FilePath') return { path: id };
  if (type === 'NetworkDestination') {
    const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(id);
    const raw = m ? m[1]!.replace(/^\[|\]$/g, '') : id;
    const host = destinationHost(raw);
    if (host === undefined)
      throw new ResourceError(
        `NetworkDestination "${id}": "${raw}" is neither an address nor a host name`,
      );
    const out: Record<string, unknown> = { host };
    if (m) out.port = Number(m[2]);
    if (ipNet(host)) out.ip = { __extn: { fn: 'ip', arg: host } };
    return out;
  }
  return {};
}

/** The resource cannot be what the request says it is. */
export class ResourceError extends Error {}

export class Engine {
  private readonly stages: Stage[];
  private readonly tiers: RiskTiers;
  private readonly clock: () => Date;

  constructor(private readonly opts: EngineOptions) {
    const inspector = () => (opts.inspector ??= lazyDefaultInspector);
    this.stages = [identityStage(opts.tokens), contentStage(inspector), ...(opts.stages ?? [])];
    this.tiers = opts.riskTiers ?? DEFAULT_RISK_TIERS;
    this.clock = opts.clock ?? (() => new Date());
  }

  get policies(): CompiledPolicySet {
    return this.opts.policies.current();
  }

  async decide(request: ActionRequest, pinned?: PinnedFacts): Promise<Decision> {
    return (await this.trace(request, pinned)).decision;
  }

  /** A decision with what it was made from: the audit log records this, replay pins it. */
  async trace(
    request: ActionRequest,
    pinned?: PinnedFacts,
    mode: EvaluationMode = {},
  ): Promise<DecisionTrace> {
    return this.run(request, this.stages, 'agent', pinned, mode);
  }

  /**
   * A human acting directly, with no agent in between: an approver deciding an approval.
   * Only the user is evaluated; in-process callers only (the HTTP decide API requires an agent).
   */
  async traceHuman(
    request: ActionRequest & { user: string },
    standIn?: StandInUser,
  ): Promise<DecisionTrace> {
    return this.run(request, [directUserStage(standIn)], 'human');
  }

  private async run(
    request: ActionRequest,
    stages: Stage[],
    actor: 'agent' | 'human',
    pinned?: PinnedFacts,
    mode: EvaluationMode = {},
  ): Promise<DecisionTrace> {
    const decisionId = uuidv7();
    const set = this.opts.policies.current();
    const base = { policyVersion: set.version, decisionId };
    const state: DecisionState = {
      request,
      set,
      now: pinned?.time ?? this.clock(),
      facts: initialFacts(request.session),
      context: {},
      obligations: [],
    };
    const traced = (decision: Decision): DecisionTrace => ({
      decision: state.ignored ? { ...decision, ignored: state.ignored } : decision,
      request,
      facts: state.facts,
      time: state.now,
      set,
      agent: state.agent?.uid.id ?? state.token?.agent ?? request.agent,
      user: state.user?.uid.id ?? state.token?.user ?? request.user,
      labels: state.resource ? resourceLabels(state.resource.attrs) : [],
      destructive: state.resource?.attrs.destructive === true,
      ...(state.approvalGrant ? { approval: state.approvalGrant } : {}),
    });
    try {
      const t = this.opts.tracer;
      for (const stage of stages) {
        await runStage(stage, state, t);
        if (state.denial) break;
      }
      const resolved = actor === 'agent' ? !!state.agent : !!state.user && !state.agent;
      if (pinned && !state.denial && resolved) pin(state.facts, pinned);
      // Scored for refusals too (the record says how risky the attempt was); a failed signal denies.
      if (this.opts.risk && actor === 'agent' && !pinned?.risk) {
        const earlier = state.denial;
        await runStage(this.opts.risk, state, t);
        if (earlier) state.denial = earlier;
      }
      if (!pinned?.risk?.level)
        state.facts.risk.level = riskLevel(state.facts.risk.score, this.tiers);
      if (state.denial || !resolved) {
        const reason =
          state.denial ??
          cordonReason(
            'internal-error',
            undefined,
            `no acting ${actor === 'agent' ? 'agent' : 'user'} was resolved`,
          );
        return traced({
          decision: 'deny',
          reasons: [reason],
          obligations: state.obligations,
          risk: state.facts.risk,
          ...base,
        });
      }
      const decided = t
        ? t.span('cordon.cedar.evaluate', {}, (span) => {
            const out = this.evaluateAll(state, state.agent, mode);
            span.set({
              'cordon.decision.outcome': out.decision,
              'cordon.decision.policies': out.reasons.map((r) => r.policy).join(','),
            });
            return out;
          })
        : this.evaluateAll(state, state.agent, mode);
      if (state.findings && request.content !== undefined)
        decided.obligations = completeRedactions(decided.obligations, state.findings);
      return traced({ ...decided, ...base });
    } catch (e) {
      return traced({
        decision: 'deny',
        reasons: [
          cordonReason(
            'internal-error',
            undefined,
            `decision failed, so it is denied: ${(e as Error).message}`,
          ),
        ],
        obligations: [],
        risk: state.facts.risk,
        ...base,
      });
    }
  }

  private evaluateAll(
    state: DecisionState,
    agent: SlicedEntity | undefined,
    mode: EvaluationMode,
  ): Omit<Decision, 'policyVersion' | 'decisionId'> {
    const { request, set, facts } = state;
    const risk = facts.risk;
    if (set.schema && !set.schema.actions.has(request.action)) {
      return deny(
        [
          cordonReason(
            'unknown-action',
            undefined,
            `action "${request.action}" is not declared in the schema`,
          ),
        ],
        risk,
      );
    }
    if (set.schema && !set.schema.entityTypes.has(request.resource.type)) {
      return deny(
        [
          cordonReason(
            'unknown-entity-type',
            undefined,
            `resource type "${request.resource.type}" is not declared in the schema`,
          ),
        ],
        risk,
      );
    }
    const action = set.store.get('Action', request.action) ?? {
      uid: { type: 'Action', id: request.action },
      attrs: {},
      parents: [],
    };
    let derived: Record<string, unknown>;
    try {
      derived = derivedAttrs(request.resource.type, request.resource.id);
    } catch (e) {
      if (!(e instanceof ResourceError)) throw e;
      return deny([cordonReason('invalid-resource', undefined, e.message)], risk);
    }
    const resolved = set.store.resolveResource(
      request.resource,
      derived,
      request.trustedFor?.includes(request.resource.type) ?? false,
    );
    const resource = resolved.entity;
    state.resource = resource;
    if (resolved.ignored.length > 0) state.ignored = resolved.ignored;
    // An isolation refuses what falls under its measures before any policy is asked: no
    // approval can be opened for it, and the reason names the isolation.
    if (facts.isolation) {
      // Egress limited to the baseline: novelty is known only where baselines compare (monitor,
      // enforce); anywhere else the destination counts as novel (fail closed).
      const b = facts.baseline;
      const comparing = b.mode === 'monitor' || b.mode === 'enforce';
      const measure = isolationMeasureFor(
        facts.isolation,
        request.action,
        {
          type: resource.uid.type,
          id: resource.uid.id,
          attrs: resource.attrs,
          parents: resource.parents,
        },
        comparing ? b.novel.destination : undefined,
        request.action === 'invokeTool' && inputDestinations(request.input).length > 0,
      );
      if (measure)
        return deny(
          [isolationReason(facts.isolation, measure, `agent "${agent?.uid.id ?? ''}"`)],
          risk,
        );
    }
    const context = buildContext(state, mode);
    const approved = facts.approval.granted;
    // Evaluation is synchronous from here: a subset stays preparsed until Cedar has run.
    const evaluateWith = (role: PrincipalRole, principal: SlicedEntity, subset: Subset): Verdict =>
      evaluate({
        set,
        subset,
        role,
        principal,
        action,
        resource,
        context: pickContext(context, subset.contextKeys),
        approved,
        ...(mode.unknownInput ? { unknownInput: true } : {}),
      });
    const principals: [PrincipalRole, SlicedEntity][] = [];
    if (agent) principals.push(['agent', agent]);
    if (state.user) principals.push(['user', state.user]);
    const evaluated = principals.map(([role, principal]) => {
      const subset = set.subsetFor(request.action, principal, resource);
      mode.observe?.({ set, subset, role, principal, action, resource, context, approved });
      return { role, principal, subset, verdict: evaluateWith(role, principal, subset) };
    });
    const verdicts = evaluated.map((e) => e.verdict);
    // Unreachable after `run` resolved a principal, but the combination below starts at allow.
    if (verdicts.length === 0)
      return deny([cordonReason('internal-error', undefined, 'no principal to evaluate')], risk);

    // Both must permit: the worst verdict decides, and its reasons explain why.
    let outcome: Outcome = 'allow';
    for (const v of verdicts) if (SEVERITY[v.outcome] > SEVERITY[outcome]) outcome = v.outcome;
    const reasons: Reason[] = verdicts
      .filter((v) => v.outcome === outcome)
      .flatMap((v) => v.reasons)
      .map((r) => explainSessionTaint(r, set, state));
    // The agent's and the user's evaluations can both impose the same obligation: once is enough.
    const obligations = uniqueObligations([
      ...state.obligations,
      ...verdicts.flatMap((v) => v.obligations),
    ]);
    const errors = verdicts.flatMap((v) => v.errors);

    const tier = applyRiskTier(
      outcome,
      tierRisk(risk, facts.baseline, this.tiers),
      approved,
      this.tiers,
    );
    const out: Omit<Decision, 'policyVersion' | 'decisionId'> = {
      decision: tier.outcome,
      reasons: tier.outcome === outcome ? [...reasons, ...tier.reasons] : tier.reasons,
      obligations: [...obligations, ...tier.obligations],
      risk,
    };
    if (errors.length > 0) out.errors = errors;
    // Shadow policies: what each would do in force. Listings are not decisions: none there.
    if (!mode.unknownInput && evaluated.some((e) => e.subset.shadow.length > 0)) {
      const shadow: ShadowResult[] = [];
      evaluated.forEach((e, k) => {
        for (let i = 0; i < e.subset.shadow.length; i++) {
          const p = e.subset.shadow[i]!.policy;
          const v = evaluateWith(
            e.role,
            e.principal,
            set.shadowSubset(e.subset, i, request.action),
          );
          // It applied when the would-be verdict cites it (determining) or it errored.
          if (!v.reasons.some((r) => r.policy === p.id) && !v.errors.some((x) => x.policy === p.id))
            continue;
          let would: Outcome = 'allow';
          verdicts.forEach((other, j) => {
            const o = j === k ? v.outcome : other.outcome;
            if (SEVERITY[o] > SEVERITY[would]) would = o;
          });
          const wouldBe = applyRiskTier(
            would,
            tierRisk(risk, facts.baseline, this.tiers),
            approved,
            this.tiers,
          ).outcome;
          shadow.push({
            policy: p.id,
            effect: p.effect,
            principal: e.role,
            wouldBe,
            wouldChange: wouldBe !== tier.outcome,
          });
        }
      });
      if (shadow.length > 0) out.shadow = shadow;
    }
    return out;
  }
}

/** A forbid that reads the session says which earlier decisions put the labels there. */
function explainSessionTaint(r: Reason, set: CompiledPolicySet, state: DecisionState): Reason {
  const origins = state.labelOrigins;
  if (r.effect !== 'forbid' || !origins?.length) return r;
  const keys = set.policies.get(r.policy)?.contextKeys;
  if (!keys || (keys !== 'all' && !keys.has('session'))) return r;
  const taint = origins
    .map((o) => `"${o.label}" (from decision ${o.decisionId}: ${o.action} ${o.resource})`)
    .join(', ');
  return { ...r, message: `${r.message ? `${r.message}; ` : ''}session labels ${taint}` };
}

function uniqueObligations(list: Obligation[]): Obligation[] {
  if (list.length < 2) return list; // the usual case: nothing to compare
  const seen = new Set<string>();
  return list.filter((o) => {
    const key = JSON.stringify(o);
    return !seen.has(key) && (seen.add(key), true);
  });
}

/**
 * The risk the tier table responds to. In monitor mode a baseline's deviations are facts and
 * risk signals, never a denial on their own: its signals stay in the recorded score, but the
 * tier is chosen from the score without them (enforce mode counts them; learn mode has none).
 */
function tierRisk(risk: Risk, baseline: unknown, tiers: RiskTiers): Risk {
  const mode = (baseline as { mode?: unknown } | undefined)?.mode;
  if (mode !== 'monitor' || !risk.signals?.some((s) => s.name.startsWith('baseline.'))) return risk;
  let total = 0;
  for (const s of risk.signals) if (!s.name.startsWith('baseline.')) total += s.value * s.weight;
  const score = Math.min(100, Math.round(total));
  return { score, level: riskLevel(score, tiers) };
}

function deny(reasons: Reason[], risk: Decision['risk']) {
  return { decision: 'deny' as const, reasons, obligations: [], risk };
}

function pin(facts: CordonFacts, pinned: PinnedFacts): void {
  for (const key of Object.keys(facts) as (keyof CordonFacts)[]) {
    const p = pinned[key];
    const f = facts[key];
    if (p && f) Object.assign(f, p);
  }
  // Optional facts (absent unless established): a pinned one replaces what the stages found.
  if (pinned.isolation) facts.isolation = { ...NOT_ISOLATED, ...pinned.isolation };
}

/** Only the keys some policy of the subset reads cross into Cedar (marshalling is the cost). */
function pickContext(
  context: Record<string, unknown>,
  keys: Set<string> | 'all',
): Record<string, unknown> {
  if (keys === 'all') return context;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in context) out[k] = context[k];
  return out;
}

function buildContext(state: DecisionState, mode: EvaluationMode): Record<string, unknown> {
  const { request, facts, set } = state;
  const ctx: Record<string, unknown> = {
    time: { __extn: { fn: 'datetime', arg: state.now.toISOString() } },
    ...request.context,
    ...state.context,
  };
  if (request.input !== undefined) ctx.input = request.input;
  if (request.paths !== undefined) Object.assign(ctx, pathFacts(request.paths));
  ctx.delegation = facts.delegation;
  ctx.session = facts.session;
  ctx.content = facts.content;
  // The score and level: the signals explain the decision, they are not Cedar's to read.
  ctx.risk = { score: facts.risk.score, level: facts.risk.level };
  ctx.approval = facts.approval;
  ctx.usage = facts.usage;
  ctx.baseline = facts.baseline;
  ctx.isolation = facts.isolation ?? NOT_ISOLATED;
  const defaults = set.schema?.contextDefaults.get(request.action);
  const filled = defaults ? fillDefaults(ctx, defaults) : ctx;
  // After the defaults: they must not be filled into the unknown.
  return mode.unknownInput ? { ...filled, ...UNKNOWN_INPUT_CONTEXT } : filled;
}
