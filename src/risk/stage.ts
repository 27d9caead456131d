// The risk stage: the last enrichment before Cedar (identity → session → content → baseline →
// risk). It reads the facts the earlier stages established and sets context.risk {score, level}
// and the signals that explain it. The engine runs it after every other stage (and after facts a
// trusted caller pinned), so its input is final. A signal that fails denies the request.

import { argumentDestination, inputDestinations } from '../core/destination.js';
import { derivedAttrs } from '../core/engine.js';
import { cordonReason } from '../core/evaluate.js';
import type { DecisionState, Stage } from '../core/pipeline.js';
import { riskSettings, type RiskConfigInput, type RiskSettings } from './config.js';
import { scoreRisk, type ReputationLookup, type RiskInput } from './score.js';

export interface RiskStageOptions {
  /** The `risk:` section of cordon.yaml (defaults for what it leaves out). */
  config?: Partial<RiskConfigInput>;
  reputation?: ReputationLookup;
}

/** A host from `https://h:1/p`, `h:1` or `h`; undefined for what is not one. */
const hostOf = (v: unknown) => argumentDestination(v)?.host;

/** The hosts the action reaches: a network destination, a resource's host or URL, the input's. */
export function destinationsOf(state: DecisionState): string[] {
  const { resource, input } = state.request;
  const out = new Set<string>();
  if (resource.type === 'NetworkDestination') {
    try {
      const host = derivedAttrs(resource.type, resource.id).host;
      if (typeof host === 'string') out.add(host);
    } catch {
      // Not a destination at all: the engine refuses the resource itself.
    }
  }
  for (const v of [resource.attrs?.host, resource.attrs?.url]) {
    const h = hostOf(v);
    if (h) out.add(h);
  }
  for (const d of inputDestinations(input)) out.add(d.host);
  return [...out];
}

export function riskInput(state: DecisionState): RiskInput {
  const { facts, token } = state;
  return {
    riskLevel: state.agent?.attrs.risk_level,
    delegationDepth: facts.delegation.depth,
    tokenAgeSeconds:
      token?.issuedAt === undefined
        ? undefined
        : Math.max(0, state.now.getTime() / 1000 - token.issuedAt),
    content: facts.content,
    labels: facts.session.labels,
    denials: facts.session.counts.denied ?? 0,
    retried: state.history?.retried ?? false,
    approvalsDenied: state.history?.approvalsDenied ?? 0,
    baseline: facts.baseline,
    destinations: destinationsOf(state),
  };
}

export function riskStage(opts: RiskStageOptions = {}): Stage & { settings: RiskSettings } {
  const settings = riskSettings(opts.config);
  return {
    name: 'risk',
    settings,
    run(state: DecisionState) {
      const r = scoreRisk(riskInput(state), settings, opts.reputation);
      state.facts.risk.score = r.score;
      state.facts.risk.signals = r.signals;
      if (r.failed)
        state.denial = cordonReason(
          'risk-error',
          undefined,
          `risk signal ${r.failed.signal} could not be computed (${r.failed.message}), so the request is denied`,
        );
    },
  };
}
