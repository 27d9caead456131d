// The risk score: 0–100 from weighted signals. Pure: everything it reads is in its input (the
// principal's attributes, the content findings, the session summary, context.baseline, the
// destinations and the reputation list already in memory). Each signal has a strength between 0
// and 1 and a weight (the points it adds at full strength); the score is the sum, capped at 100.
// A signal that fails makes the score 100 and marks the result failed: the caller denies.

import type { ContentFacts, RiskSignal } from '../core/types.js';
import { SIGNAL_NAMES, type RiskSettings, type SignalName } from './config.js';

export interface RiskInput {
  /** The acting agent's `risk_level` attribute (low | medium | high | critical, or 0–100). */
  riskLevel?: unknown;
  delegationDepth: number;
  /** Seconds since the delegation token was issued, when the request came with one. */
  tokenAgeSeconds?: number | undefined;
  content: ContentFacts;
  /** The session's labels (with those the agent and user picked up within the label window). */
  labels: readonly string[];
  /** Denials in the session window. */
  denials: number;
  /** The same action on the same resource was denied earlier in the session window. */
  retried: boolean;
  /** Approval requests people refused in the session window. */
  approvalsDenied: number;
  /** `context.baseline` as the baselines stage set it; absent: no signal. */
  baseline?: unknown;
  /** Hosts (names or addresses) the action reaches. */
  destinations: readonly string[];
}

/** Finds the list entry a host matches (the reputation list in memory). */
export interface ReputationLookup {
  match(host: string): string | undefined;
}

export interface RiskResult {
  score: number;
  signals: RiskSignal[];
  /** The signal that failed (the score is then 100). */
  failed?: { signal: SignalName; message: string };
}

const LEVELS: Record<string, number> = { low: 0, medium: 0.5, high: 1, critical: 1 };

class SignalError extends Error {}

/** A finite number, or the signal fails: a malformed fact never lowers a score. */
function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new SignalError(`${what} is not a number (${JSON.stringify(v) ?? typeof v})`);
  return v;
}
const clamp = (v: number) => (v <= 0 ? 0 : v >= 1 ? 1 : v);

type Strength = number | { value: number; detail: string };
type Signal = (i: RiskInput, s: RiskSettings, rep: ReputationLookup | undefined) => Strength;

const SIGNALS: Record<SignalName, Signal> = {
  'principal.riskLevel': ({ riskLevel: r }) => {
    if (r === undefined) return 0;
    if (typeof r === 'number') return clamp(num(r, 'risk_level') / 100);
    if (typeof r !== 'string') throw new SignalError('risk_level is neither a string nor a number');
    // A rating Cordon does not know is taken as medium: unknown is not low.
    return LEVELS[r.toLowerCase()] ?? 0.5;
  },
  'delegation.depth': ({ delegationDepth: d }, s) =>
    clamp((num(d, 'delegation depth') - 1) / (s.fullAt.delegationDepth - 1)),
  'token.age': ({ tokenAgeSeconds: a }, s) =>
    a === undefined ? 0 : clamp(num(a, 'token age') / s.fullAt.tokenAgeSeconds),
  'content.injection': ({ content }) => clamp(num(content.injection, 'content.injection') / 100),
  'content.secrets': ({ content }) =>
    content.secrets.length > 0 ? { value: 1, detail: content.secrets.join(', ') } : 0,
  'content.pii': ({ content }, s) =>
    content.pii.length > 0
      ? { value: clamp(content.pii.length / s.fullAt.piiKinds), detail: content.pii.join(', ') }
      : 0,
  'session.tainted': ({ labels }, s) => {
    const hit = labels.filter((l) => s.taintedLabels.has(l));
    return hit.length > 0 ? { value: 1, detail: hit.join(', ') } : 0;
  },
  'session.denials': ({ denials }, s) => clamp(num(denials, 'denials') / s.fullAt.denials),
  'session.retry': ({ retried }) => (retried ? 1 : 0),
  'baseline.deviation': ({ baseline }) => {
    const b = monitored(baseline);
    return b && b.deviation !== undefined ? clamp(num(b.deviation, 'baseline.deviation') / 100) : 0;
  },
  'baseline.rate': ({ baseline }, s) => {
    const b = monitored(baseline);
    if (!b || b.rateRatio === undefined) return 0;
    // A percent of the usual rate (100: as usual; 0: no usual rate yet).
    const times = num(b.rateRatio, 'baseline.rateRatio') / 100;
    return clamp((times - 1) / (s.fullAt.rateRatio - 1));
  },
  'destination.reputation': ({ destinations }, _s, rep) => {
    if (!rep) return 0;
    for (const host of destinations) {
      const entry = rep.match(host);
      if (entry !== undefined) return { value: 1, detail: `${host} (listed as ${entry})` };
    }
    return 0;
  },
  'approval.denied': ({ approvalsDenied: n }, s) =>
    clamp(num(n, 'approvals denied') / s.fullAt.approvalsDenied),
};

/**
 * The baseline's facts when it counts: in learn mode a baseline only observes (and "off" keeps
 * none), so deviations are no signal; in monitor and enforce they are.
 */
function monitored(b: unknown): { deviation?: unknown; rateRatio?: unknown } | undefined {
  if (b === undefined || b === null) return undefined;
  if (typeof b !== 'object' || Array.isArray(b))
    throw new SignalError('context.baseline is not a record');
  const r = b as Record<string, unknown>;
  if (r.mode === 'learn' || r.mode === 'off') return undefined;
  return r;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function scoreRisk(
  input: RiskInput,
  settings: RiskSettings,
  reputation?: ReputationLookup,
): RiskResult {
  const signals: RiskSignal[] = [];
  let total = 0;
  for (const name of SIGNAL_NAMES) {
    const weight = settings.weights[name];
    let strength: Strength;
    try {
      strength = SIGNALS[name](input, settings, reputation);
    } catch (e) {
      // Fail closed: a signal Cordon cannot compute could have been the one that mattered.
      const message = (e as Error).message;
      signals.push({ name, value: 1, weight: 100, detail: `failed: ${message}` });
      return { score: 100, signals, failed: { signal: name, message } };
    }
    // Rounded before it counts, so the recorded signals add up to the recorded score exactly.
    const value = round3(typeof strength === 'number' ? strength : strength.value);
    if (value <= 0 || weight <= 0) continue;
    const signal: RiskSignal = { name, value, weight };
    if (typeof strength !== 'number') signal.detail = strength.detail;
    signals.push(signal);
    total += value * weight;
  }
  return { score: Math.min(100, Math.round(total)), signals };
}

/** The score a list of recorded signals adds up to (replay checks a record against it). */
export function scoreOfSignals(signals: readonly RiskSignal[]): number {
  let total = 0;
  for (const s of signals) total += s.value * s.weight;
  return Math.min(100, Math.round(total));
}
