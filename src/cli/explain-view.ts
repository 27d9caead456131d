// The human form of `cordon policy explain`: per evaluated principal, each policy the action
// index offers. Policies whose scope matched show every scope part and each `when`/`unless`
// condition (held, failed, errored, not evaluated); the others get one line naming the scope
// parts that did not match.

import type { PolicyExplained, PrincipalExplained } from '../core/explain.js';
import type { Decision } from '../core/types.js';

const ref = (r: { type: string; id: string }) => `${r.type}::${JSON.stringify(r.id)}`;

const MARK: Record<PolicyExplained['result'], string> = {
  satisfied: '●',
  error: '!',
  'not-satisfied': '○',
  'scope-mismatch': '·',
};
/** Listed in this order: what decided first, what never got past its scope last. */
const ORDER = Object.keys(MARK);

function heading(p: PolicyExplained): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  const tags = [
    p.outcome ? `@outcome("${p.outcome}")` : '',
    p.shadow ? 'shadow: never decides' : '',
    p.waived ? 'waived: an approval is on record' : '',
  ].filter(Boolean);
  return `  ${MARK[p.result]} ${p.effect} ${p.policy} (${where})${tags.length ? ` [${tags.join('; ')}]` : ''}`;
}

function policyLines(p: PolicyExplained): string[] {
  if (p.result === 'scope-mismatch') {
    const missed = (['principal', 'action', 'resource'] as const)
      .filter((v) => !p.scope[v].matched)
      .map((v) => p.scope[v].constraint);
    return [`${heading(p)}: scope does not match: ${missed.join('; ')}`];
  }
  const verdict = {
    satisfied: 'applies',
    'not-satisfied': 'does not apply: a condition failed',
    error:
      p.effect === 'forbid'
        ? 'errored, so the request is denied'
        : 'errored, so it permits nothing',
  }[p.result];
  const lines = [`${heading(p)}: ${verdict}`];
  const scope = (['principal', 'action', 'resource'] as const).map((v) => p.scope[v].constraint);
  lines.push(`      ✓ scope: ${scope.join(', ')}`);
  for (const c of p.conditions) {
    const text = `${c.kind} { ${c.text} }`;
    if (c.result === 'error') lines.push(`      ! ${text} errored: ${c.error}`);
    else if (c.result === 'not-evaluated') lines.push(`      - ${text} not evaluated`);
    else lines.push(`      ${c.result === 'held' ? '✓' : '✗'} ${text} is ${String(c.value)}`);
  }
  return lines;
}

export function explainText(decision: Decision, evaluations: PrincipalExplained[]): string {
  const lines = [`decision: ${decision.decision} (policy version ${decision.policyVersion})`];
  for (const r of decision.reasons)
    lines.push(
      `  reason: ${r.policy} (${r.effect}${r.principal ? `, ${r.principal}` : ''})${r.message ? `: ${r.message}` : ''}`,
    );
  if (evaluations.length === 0)
    lines.push(
      '',
      'no policy was evaluated: the request was settled before Cedar ran (see the reason)',
    );
  for (const e of evaluations) {
    const n = e.policies.length;
    lines.push(
      '',
      `${e.role} ${ref(e.principal)}, ${ref(e.action)}, ${ref(e.resource)}: ${n} ${n === 1 ? 'policy names' : 'policies name'} this action`,
    );
    const sorted = [...e.policies].sort(
      (a, b) => ORDER.indexOf(a.result) - ORDER.indexOf(b.result),
    );
    for (const p of sorted) lines.push(...policyLines(p));
  }
  lines.push(
    '',
    '● applies  ! errored  ○ a condition failed  · scope does not match;  ✓ held  ✗ failed  - not evaluated',
  );
  return lines.join('\n');
}
