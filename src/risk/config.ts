// The `risk:` section of cordon.yaml: the tier table (thresholds, responses) as before, and the
// risk engine's weights, the points at which a counted signal is at full strength, the labels
// that taint a session and the destination reputation file. Every key has a default.

import { z } from 'zod';
import { DEFAULT_RISK_TIERS } from '../core/risk.js';

/** Every signal the risk engine computes, in the order it reports them. */
export const SIGNAL_NAMES = [
  'principal.riskLevel',
  'delegation.depth',
  'token.age',
  'content.injection',
  'content.secrets',
  'content.pii',
  'session.tainted',
  'session.denials',
  'session.retry',
  'baseline.deviation',
  'baseline.rate',
  'destination.reputation',
  'approval.denied',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/**
 * Points each signal adds at full strength (value 1); the score is the sum, capped at 100. Chosen
 * so that one strong signal reaches a tier on its own (a likely injection: medium; a known-bad
 * destination: high) while the everyday ones (a high-risk agent, a secret in a tool result that is
 * redacted anyway) stay low unless several come together.
 */
export const DEFAULT_WEIGHTS: Record<SignalName, number> = {
  'principal.riskLevel': 20,
  'delegation.depth': 10,
  'token.age': 5,
  'content.injection': 50,
  'content.secrets': 15,
  'content.pii': 10,
  'session.tainted': 10,
  'session.denials': 15,
  'session.retry': 15,
  'baseline.deviation': 35,
  'baseline.rate': 10,
  'destination.reputation': 70,
  'approval.denied': 20,
};

/** Where a counted signal reaches full strength. */
export const DEFAULT_FULL_AT = {
  /** Delegation chain length (1, an agent acting directly, is 0). */
  delegationDepth: 5,
  /** Seconds since the delegation token was issued. */
  tokenAgeSeconds: 3600,
  /** PII kinds in the content. */
  piiKinds: 2,
  /** Denials in the session window. */
  denials: 5,
  /** Approvals people refused in the session window. */
  approvalsDenied: 2,
  /** Action rate over the baseline's (1: as usual). */
  rateRatio: 5,
};

export const DEFAULT_TAINTED_LABELS = [
  'pii',
  'secret',
  'credentials',
  'confidential',
  'restricted',
];

const response = z.enum(['allow', 'require_approval', 'restrict', 'isolate']);
const weight = z.number().min(0).max(100);
const positive = z.number().positive();

export const riskConfigSchema = z
  .strictObject({
    thresholds: z
      // Each key is optional: one named alone keeps the others at their defaults.
      .strictObject({
        medium: z.number().default(DEFAULT_RISK_TIERS.thresholds.medium),
        high: z.number().default(DEFAULT_RISK_TIERS.thresholds.high),
        critical: z.number().default(DEFAULT_RISK_TIERS.thresholds.critical),
      })
      .default(DEFAULT_RISK_TIERS.thresholds),
    responses: z
      .strictObject({
        low: response.default(DEFAULT_RISK_TIERS.responses.low),
        medium: response.default(DEFAULT_RISK_TIERS.responses.medium),
        high: response.default(DEFAULT_RISK_TIERS.responses.high),
        critical: response.default(DEFAULT_RISK_TIERS.responses.critical),
      })
      .default(DEFAULT_RISK_TIERS.responses),
    /** Points per signal at full strength (docs/risk-and-baselines.md); unnamed ones keep their default. */
    weights: z
      .strictObject(
        Object.fromEntries(SIGNAL_NAMES.map((n) => [n, weight.optional()])) as Record<
          SignalName,
          z.ZodOptional<typeof weight>
        >,
      )
      .default({}),
    fullAt: z
      .strictObject({
        delegationDepth: z.number().int().min(2).optional(),
        tokenAgeSeconds: positive.optional(),
        piiKinds: z.number().int().positive().optional(),
        denials: z.number().int().positive().optional(),
        approvalsDenied: z.number().int().positive().optional(),
        rateRatio: z.number().gt(1).optional(),
      })
      .default({}),
    /** Session labels that make a session tainted (the session.tainted signal). */
    taintedLabels: z.array(z.string().min(1)).default(DEFAULT_TAINTED_LABELS),
    /** Known-bad hosts, domains and address ranges, one per line; followed like the policies. */
    reputation: z.strictObject({ file: z.string().min(1) }).optional(),
  })
  .default({
    ...DEFAULT_RISK_TIERS,
    weights: {},
    fullAt: {},
    taintedLabels: DEFAULT_TAINTED_LABELS,
  });

export type RiskConfigInput = z.infer<typeof riskConfigSchema>;

/** The configuration with every default filled in, as the scorer reads it. */
export interface RiskSettings {
  weights: Record<SignalName, number>;
  fullAt: typeof DEFAULT_FULL_AT;
  taintedLabels: ReadonlySet<string>;
}

export function riskSettings(c: Partial<RiskConfigInput> = {}): RiskSettings {
  const weights = { ...DEFAULT_WEIGHTS };
  for (const [k, v] of Object.entries(c.weights ?? {}))
    if (v !== undefined) weights[k as SignalName] = v;
  const fullAt = { ...DEFAULT_FULL_AT };
  for (const [k, v] of Object.entries(c.fullAt ?? {}))
    if (v !== undefined) fullAt[k as keyof typeof DEFAULT_FULL_AT] = v;
  return { weights, fullAt, taintedLabels: new Set(c.taintedLabels ?? DEFAULT_TAINTED_LABELS) };
}
