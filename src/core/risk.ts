// The risk tier table: a score becomes a level, and a level a progressive response that
// applies on top of what the policies decided (it can only harden an outcome, never soften it).

import type { Obligation, Outcome, Reason, Risk, RiskLevel } from './types.js';

export type RiskResponse = 'allow' | 'require_approval' | 'restrict' | 'isolate';

export interface RiskTiers {
  /** Lowest score of each level above low (scores are 0–100). */
  thresholds: { medium: number; high: number; critical: number };
  responses: Record<RiskLevel, RiskResponse>;
}

export const DEFAULT_RISK_TIERS: RiskTiers = {
  thresholds: { medium: 40, high: 70, critical: 90 },
  responses: { low: 'allow', medium: 'require_approval', high: 'restrict', critical: 'isolate' },
};

export function riskLevel(score: number, tiers: RiskTiers): RiskLevel {
  const t = tiers.thresholds;
  if (score >= t.critical) return 'critical';
  if (score >= t.high) return 'high';
  if (score >= t.medium) return 'medium';
  return 'low';
}

export function applyRiskTier(
  outcome: Outcome,
  risk: Risk,
  approved: boolean,
  tiers: RiskTiers,
): { outcome: Outcome; reasons: Reason[]; obligations: Obligation[] } {
  const response = tiers.responses[risk.level];
  const reason = (message: string): Reason => ({
    policy: 'cordon/risk-tier',
    effect: 'forbid',
    annotations: { level: risk.level, response },
    message,
  });
  if (response === 'allow') return { outcome, reasons: [], obligations: [] };
  if (response === 'require_approval') {
    if (outcome !== 'allow' || approved) return { outcome, reasons: [], obligations: [] };
    return {
      outcome: 'require_approval',
      reasons: [reason(`risk ${risk.score} (${risk.level}) requires a human approval`)],
      obligations: [],
    };
  }
  const obligations: Obligation[] = [
    { type: response, reason: 'risk', level: risk.level, score: risk.score },
  ];
  return {
    outcome: 'deny',
    reasons: outcome === 'deny' ? [] : [reason(`risk ${risk.score} (${risk.level}): ${response}`)],
    obligations,
  };
}
