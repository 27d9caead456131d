// `cordon policy shadow-report`: what each shadow policy (`@mode("shadow")`) would have changed,
// summarized from the audit log, where every decision records the shadow policies that applied
// to it. Pure over the records; the command reads them.

import type { AuditRecord } from '../audit/record.js';

export interface ShadowPolicySummary {
  policy: string;
  effect: 'permit' | 'forbid';
  /** Decisions the policy applied to (it would have been determining, or it errored). */
  applied: number;
  /** Of those, the decisions whose outcome it would have changed. */
  changed: number;
  /** "allow → deny" and so on, with counts, for the changes. */
  transitions: Record<string, number>;
  /** Up to five decisions it would have changed. */
  examples: { id: string; time: string; agent?: string; action: string; resource: string }[];
  firstSeen: string;
  lastSeen: string;
}

export interface ShadowReport {
  /** Decisions read. */
  decisions: number;
  /** Per shadow policy, most changes first. */
  policies: ShadowPolicySummary[];
}

export function shadowReport(records: Iterable<AuditRecord>): ShadowReport {
  const by = new Map<string, ShadowPolicySummary>();
  let decisions = 0;
  for (const rec of records) {
    if (rec.kind) continue; // events, not decisions
    decisions++;
    for (const s of rec.shadow ?? []) {
      let p = by.get(s.policy);
      if (!p) {
        p = {
          policy: s.policy,
          effect: s.effect,
          applied: 0,
          changed: 0,
          transitions: {},
          examples: [],
          firstSeen: rec.time,
          lastSeen: rec.time,
        };
        by.set(s.policy, p);
      }
      p.applied++;
      p.lastSeen = rec.time;
      if (!s.wouldChange) continue;
      p.changed++;
      const t = `${rec.decision} → ${s.wouldBe}`;
      p.transitions[t] = (p.transitions[t] ?? 0) + 1;
      if (p.examples.length < 5) {
        const ex: ShadowPolicySummary['examples'][number] = {
          id: rec.id,
          time: rec.time,
          action: rec.action,
          resource: `${rec.resource.type}::${JSON.stringify(rec.resource.id)}`,
        };
        if (rec.agent !== undefined) ex.agent = rec.agent;
        p.examples.push(ex);
      }
    }
  }
  const policies = [...by.values()].sort(
    (a, b) => b.changed - a.changed || b.applied - a.applied || (a.policy < b.policy ? -1 : 1),
  );
  return { decisions, policies };
}

/** The report as lines of text for a terminal. */
export function formatShadowReport(r: ShadowReport): string[] {
  const out = [`${r.decisions} recorded decisions read`];
  if (r.policies.length === 0) {
    out.push('no shadow policy applied to any of them');
    return out;
  }
  for (const p of r.policies) {
    out.push(
      `${p.policy} (${p.effect}, shadow): applied to ${p.applied}, would have changed ${p.changed}`,
    );
    for (const [t, n] of Object.entries(p.transitions).sort((a, b) => b[1] - a[1]))
      out.push(`  ${t}: ${n}`);
    for (const e of p.examples)
      out.push(`    ${e.id} ${e.time} ${e.agent ?? '?'} ${e.action} ${e.resource}`);
  }
  return out;
}
