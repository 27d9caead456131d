// Re-evaluation of recorded decisions: `audit replay` (each against the policy version it was
// made under) and `policy whatif` (all against a candidate set). The recorded facts (time,
// delegation, session, content, risk, approval) are pinned, so only the policies vary.

import { LOCAL_ADMIN } from '../core/stages/identity.js';
import { compilePolicySet } from '../core/compile.js';
import { Engine } from '../core/engine.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { ActionRequest, Outcome, Risk, ShadowResult } from '../core/types.js';
import { scoreOfSignals } from '../risk/score.js';
import { MASKED, type AuditRecord } from './record.js';
import type { AuditReader } from '../store/audit-port.js';

export interface Reevaluation {
  record: AuditRecord;
  decision: Outcome;
  /** What the policies gave when it was recorded (the approval store may have overruled it). */
  policiesGave: Outcome;
  policies: string[];
  reproduces: boolean;
  /** The risk as re-evaluated: the recorded score, level and signals (pinned), so its tier applies again. */
  risk: Risk;
  /** What the shadow policies would have done, as re-evaluated. */
  shadow?: ShadowResult[];
  /** Why the recorded request could not be rebuilt exactly (input not recorded, masked values). */
  caveat?: string;
}

export function recordedRequest(rec: AuditRecord): { request: ActionRequest; caveat?: string } {
  const request: ActionRequest = { action: rec.action, resource: rec.resource, pep: rec.pep };
  if (rec.agent !== undefined) request.agent = rec.agent;
  if (rec.user !== undefined) request.user = rec.user;
  if (rec.session !== undefined) request.session = rec.session;
  if (rec.context !== undefined) request.context = rec.context;
  if (rec.input !== undefined) request.input = rec.input;
  if (rec.trustedFor !== undefined) request.trustedFor = rec.trustedFor;
  if (rec.paths !== undefined) request.paths = rec.paths;
  const caveats: string[] = [];
  if (rec.inputDigest !== undefined && rec.input === undefined)
    caveats.push('input was not recorded');
  if (JSON.stringify(rec).includes(JSON.stringify(MASKED))) caveats.push('some values were masked');
  return caveats.length ? { request, caveat: caveats.join('; ') } : { request };
}

/** Outcomes the approval store decides, and what the policies alone give for them. */
const STORE_OUTCOMES: Record<string, Outcome> = {
  'cordon/approval-denied': 'require_approval',
  'cordon/approval-used': 'allow',
};

const policyIds = (ids: { policy: string }[]) => ids.map((r) => r.policy).sort();

export async function reevaluate(rec: AuditRecord, set: CompiledPolicySet): Promise<Reevaluation> {
  const engine = new Engine({ policies: { current: () => set } });
  const recorded = recordedRequest(rec);
  const { request } = recorded;
  let caveat = recorded.caveat;
  const { user } = request;
  // A user with no agent acted in person (an approver answering an approval request).
  const d =
    request.agent === undefined && user !== undefined
      ? (
          await engine.traceHuman(
            { ...request, user },
            user === LOCAL_ADMIN.id ? LOCAL_ADMIN : undefined,
          )
        ).decision
      : await engine.decide(request, { ...rec.facts, time: new Date(rec.time) });
  const policies = policyIds(d.reasons);
  let reproduces =
    d.decision === rec.decision &&
    JSON.stringify(policies) === JSON.stringify(policyIds(rec.reasons));
  // Shadow policies are part of the policy version: what they would have done reproduces too.
  const shadowOf = (list: { policy: string; wouldBe: string }[] | undefined) =>
    JSON.stringify((list ?? []).map((x) => [x.policy, x.wouldBe]));
  if (shadowOf(d.shadow) !== shadowOf(rec.shadow)) reproduces = false;
  // The recorded signals must add up to the recorded score: a record edited to lower it does not.
  const signals = rec.facts.risk.signals;
  if (signals && scoreOfSignals(signals) !== rec.facts.risk.score) {
    reproduces = false;
    caveat = [
      caveat,
      `the recorded risk score ${rec.facts.risk.score} is not what its signals add up to (${scoreOfSignals(signals)})`,
    ]
      .filter(Boolean)
      .join('; ');
  }
  // The approval store, not the policies, turned these around: a person said no, or the
  // grant was already used. The policies reproduce if they still ask for (or honour) approval.
  const byStore = rec.reasons.find((r) => STORE_OUTCOMES[r.policy] !== undefined);
  const policiesGave = byStore ? STORE_OUTCOMES[byStore.policy]! : rec.decision;
  if (!reproduces && byStore && d.decision === policiesGave) {
    reproduces = true;
    caveat = [caveat, `the outcome came from the approval store (${byStore.policy})`]
      .filter(Boolean)
      .join('; ');
  }
  // Replay applies the default tier responses; the server may have been configured otherwise.
  const tiered = (ids: { policy: string }[]) => ids.some((r) => r.policy === 'cordon/risk-tier');
  if (!reproduces && (tiered(rec.reasons) || tiered(d.reasons)))
    caveat = [
      caveat,
      `the risk tier table decided (risk ${rec.facts.risk.score}, ${rec.facts.risk.level}); replay applies the default risk.responses`,
    ]
      .filter(Boolean)
      .join('; ');
  const out = {
    record: rec,
    decision: d.decision,
    policiesGave,
    policies,
    reproduces,
    risk: d.risk,
  };
  return caveat ? { ...out, caveat } : out;
}

/** Compiles each stored policy version once. */
export class StoredPolicySets {
  private readonly cache = new Map<string, CompiledPolicySet | string>();
  constructor(private readonly store: AuditReader) {}

  async get(version: string): Promise<CompiledPolicySet | string> {
    const hit = this.cache.get(version);
    if (hit) return hit;
    const sources = await this.store.policySet(version);
    let out: CompiledPolicySet | string;
    if (!sources) out = `policy version ${version} is not stored`;
    else {
      const r = compilePolicySet(sources);
      out = r.ok ? r.set : `policy version ${version} no longer compiles: ${r.errors[0]?.message}`;
    }
    this.cache.set(version, out);
    return out;
  }
}

export async function replaySession(
  store: AuditReader,
  session: string,
): Promise<{ results: Reevaluation[]; failures: string[] }> {
  const sets = new StoredPolicySets(store);
  const results: Reevaluation[] = [];
  const failures: string[] = [];
  for (const row of await store.query({ session })) {
    const rec = JSON.parse(row.record) as AuditRecord;
    if (rec.kind) continue; // an event (usage, launch), not a decision
    const set = await sets.get(rec.policyVersion);
    if (typeof set === 'string') {
      failures.push(`${rec.id}: ${set}`);
      continue;
    }
    results.push(await reevaluate(rec, set));
  }
  return { results, failures };
}

export interface WhatIfReport {
  total: number;
  changed: number;
  /** "allow → deny" and so on, with counts and up to five examples each. */
  transitions: Map<string, { count: number; examples: Reevaluation[] }>;
}

export async function whatIf(
  store: AuditReader,
  candidate: CompiledPolicySet,
  since?: string,
  /** Only the newest this many records (since `since`); all without it. */
  limit?: number,
): Promise<WhatIfReport> {
  const report: WhatIfReport = { total: 0, changed: 0, transitions: new Map() };
  let after: number | undefined;
  if (limit !== undefined) {
    const [newest] = await store.tail(1);
    after = Math.max(-1, (newest?.seq ?? -1) - limit);
  }
  const rows = await store.query({
    ...(since ? { since } : {}),
    ...(after !== undefined ? { after } : {}),
  });
  for (const row of rows) {
    const rec = JSON.parse(row.record) as AuditRecord;
    if (rec.kind) continue;
    const r = await reevaluate(rec, candidate);
    report.total++;
    // Let other work in (a server answering decisions while the console runs a what-if).
    if (report.total % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (r.decision === r.policiesGave) continue;
    report.changed++;
    const key = `${r.policiesGave} → ${r.decision}`;
    const t = report.transitions.get(key) ?? { count: 0, examples: [] };
    t.count++;
    if (t.examples.length < 5) t.examples.push(r);
    report.transitions.set(key, t);
  }
  return report;
}

/** A what-if report as JSON (`cordon policy whatif --json`, the console): most frequent first. */
export function whatIfJson(report: WhatIfReport) {
  const transitions = [...report.transitions]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([transition, t]) => ({
      transition,
      count: t.count,
      examples: t.examples.map((e) => ({
        id: e.record.id,
        agent: e.record.agent ?? null,
        user: e.record.user ?? null,
        action: e.record.action,
        resource: e.record.resource,
        was: e.policiesGave,
        now: e.decision,
        policies: e.policies,
      })),
    }));
  return { total: report.total, changed: report.changed, transitions };
}
