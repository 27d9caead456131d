// Redaction obligations. A policy annotated `@redact("secrets,pii")` (targets: a detector name,
// or "detector:type" such as "pii:email") that determines an allow makes the decision carry
//   {type: "redact", policy, targets: ["secrets","pii"], operator: "replace"}
// and, when the request had `content`, the spans to redact in it (UTF-16 offsets and types,
// never the values), so a PEP applies it without an inspector of its own. `@redact_with("mask"|"hash"|"drop")`
// chooses the operator (default "replace").

import type { Obligation } from '../core/types.js';
import {
  REDACT_OPERATORS,
  mergeSpans,
  redactText,
  type RedactOperator,
  type Span,
} from './redact.js';
import type { DetectorName, Finding } from './types.js';

const DETECTORS: DetectorName[] = ['secrets', 'pii', 'injection'];

export interface RedactObligation extends Obligation {
  type: 'redact';
  targets: string[];
  operator: RedactOperator;
  /** Set when the request carried content: what to redact in it, as UTF-16 offsets. */
  spans?: Span[];
}

/** The problems with a policy's @redact / @redact_with annotations ([] when fine). */
export function redactAnnotationErrors(annotations: Record<string, string>): string[] {
  const errors: string[] = [];
  if (annotations.redact !== undefined) {
    const targets = parseTargets(annotations.redact);
    if (targets.length === 0) errors.push('@redact needs at least one target');
    for (const t of targets) {
      const d = t.split(':', 1)[0] as DetectorName;
      if (!DETECTORS.includes(d))
        errors.push(`@redact target "${t}": expected ${DETECTORS.join(', ')} (optionally ":type")`);
    }
  }
  const op = annotations.redact_with;
  if (op !== undefined && !REDACT_OPERATORS.includes(op as RedactOperator))
    errors.push(`@redact_with("${op}"): expected one of ${REDACT_OPERATORS.join(', ')}`);
  return errors;
}

export function parseTargets(s: string): string[] {
  return s
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

/** The obligation a determining policy's annotations impose, if any. */
export function redactObligation(policy: {
  id: string;
  annotations: Record<string, string>;
}): RedactObligation | undefined {
  const a = policy.annotations;
  if (a.redact === undefined) return undefined;
  return {
    type: 'redact',
    policy: policy.id,
    targets: parseTargets(a.redact),
    operator: (a.redact_with as RedactOperator | undefined) ?? 'replace',
  };
}

/** The findings an obligation's targets select. */
export function selectFindings(findings: Finding[], targets: string[]): Finding[] {
  return findings.filter((f) =>
    targets.some((t) => t === f.detector || t === `${f.detector}:${f.type}`),
  );
}

/** Redaction obligations completed with the spans to redact in the request content. */
export function completeRedactions(obligations: Obligation[], findings: Finding[]): Obligation[] {
  return obligations.map((o) => {
    if (o.type !== 'redact') return o;
    const r = o as RedactObligation;
    const chosen = selectFindings(findings, r.targets);
    return { ...r, spans: mergeSpans(chosen) };
  });
}

/** Operators from weakest to strongest: several obligations on one text use the strongest. */
const STRENGTH: RedactOperator[] = ['mask', 'hash', 'replace', 'drop'];

/** A decision's redact obligations together: every target and span, the strongest operator. */
export function redactionPlan(obligations: Obligation[]): {
  targets: string[];
  spans: Span[];
  operator: RedactOperator;
} {
  const redacts = obligations.filter((o): o is RedactObligation => o.type === 'redact');
  let operator: RedactOperator = 'mask';
  for (const o of redacts)
    if (STRENGTH.indexOf(o.operator) > STRENGTH.indexOf(operator)) operator = o.operator;
  return {
    targets: [...new Set(redacts.flatMap((o) => o.targets))],
    spans: mergeSpans(redacts.flatMap((o) => o.spans ?? [])),
    operator: redacts.length > 0 ? operator : 'replace',
  };
}

/** Applies every redaction obligation of a decision to a text (what an in-process PEP does). */
export function applyRedactions(
  text: string,
  obligations: Obligation[],
  findings: Finding[],
  salt?: string,
): string {
  const plan = redactionPlan(obligations);
  const chosen = selectFindings(findings, plan.targets);
  if (chosen.length === 0) return text;
  return redactText(text, chosen, {
    operator: plan.operator,
    ...(salt !== undefined ? { salt } : {}),
  });
}
