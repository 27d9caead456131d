// Prometheus metrics for GET /metrics: decisions by outcome and PEP, decision latency,
// policy reloads, shadow policies. A registry per server, so tests and embedded uses never collide.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: 'cordon_decisions_total',
    help: 'Decisions made, by outcome and enforcement point',
    labelNames: ['decision', 'pep'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'cordon_decision_duration_seconds',
    help: 'Time to decide, from request to outcome',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'cordon_policy_reloads_total',
    help: 'Policy reloads, by result (ok keeps the new set, error keeps the last good set)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly auditFailures = new Counter({
    name: 'cordon_audit_append_failures_total',
    help: 'Decisions denied because their audit record could not be stored',
    registers: [this.registry],
  });
  readonly riskScore = new Histogram({
    name: 'cordon_decision_risk_score',
    help: 'Risk scores of decisions (0-100), for tuning risk.weights and risk.thresholds',
    buckets: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    registers: [this.registry],
  });
  readonly riskSignals = new Counter({
    name: 'cordon_risk_signals_total',
    help: 'Decisions each risk signal raised the score of',
    labelNames: ['signal'] as const,
    registers: [this.registry],
  });
  readonly shadow = new Counter({
    name: 'cordon_shadow_policy_decisions_total',
    help: 'Decisions a shadow policy (@mode("shadow")) applied to, by policy and whether it would have changed the outcome',
    labelNames: ['policy', 'would_change'] as const,
    registers: [this.registry],
  });
  readonly policies = new Gauge({
    name: 'cordon_policies',
    help: 'Policies in the serving set',
    registers: [this.registry],
  });

  readonly policyVersion = new Gauge({
    name: 'cordon_policy_version_info',
    help: 'The policy set serving, by version (1 for the version serving)',
    labelNames: ['version'] as const,
    registers: [this.registry],
  });
  readonly bundleFailures = new Counter({
    name: 'cordon_policy_bundle_failures_total',
    help: 'Policy bundles not served: unreachable, unsigned, badly signed, tampered or not compiling',
    registers: [this.registry],
  });

  /** Peers serving another policy version than this node (set where nodes share a bus). */
  peerStatus: (() => { differing: unknown[] }) | undefined;
  readonly peersDiffering = new Gauge({
    name: 'cordon_policy_peers_differing',
    help: 'Peer nodes heard serving another policy version than this node',
    registers: [this.registry],
    collect: () => {
      const s = this.peerStatus?.();
      if (s) this.peersDiffering.set(s.differing.length);
    },
  });

  /** Marks `version` as the one serving (the previous one's series is dropped). */
  servingVersion(version: string): void {
    this.policyVersion.reset();
    this.policyVersion.set({ version }, 1);
  }

  readonly baselineNovel = new Counter({
    name: 'cordon_baseline_novel_total',
    help: 'Actions that were novel for the agent in monitor or enforce mode, by mode, dimension and outcome',
    labelNames: ['mode', 'dimension', 'decision'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cordon_' });
  }
}
