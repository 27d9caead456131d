// A Cedar residual (what partial evaluation left of a policy once the principal and action
// are known and the resource is not) as a predicate over the resource the kernel can see:
// its type, path, host, port and destination sets. Anything else (context, unknown
// attributes, extension calls the kernel cannot evaluate) becomes an opaque atom that names
// what it reads, so the report can say why a policy stays at the gateway. Pure.

import type { Expr, PatternElem, PolicyJson } from '../core/cedar.js';

export type Atom =
  | { kind: 'is'; type: string }
  | { kind: 'pathLike'; pattern: PatternElem[] }
  | { kind: 'pathEq'; path: string }
  | { kind: 'hostEq'; host: string }
  | { kind: 'portEq'; port: number }
  | { kind: 'hasPort' }
  | { kind: 'hasIp' }
  | { kind: 'inRange'; cidr: string }
  | { kind: 'inSet'; type: string; id: string }
  | { kind: 'eq'; type: string; id: string }
  | { kind: 'opaque'; why: string };

export type Pred =
  | { op: 'const'; value: boolean }
  | { op: 'atom'; atom: Atom }
  | { op: 'not'; arg: Pred }
  | { op: 'and' | 'or'; args: Pred[] };

const TRUE: Pred = { op: 'const', value: true };
const FALSE: Pred = { op: 'const', value: false };
const opaque = (why: string): Pred => ({ op: 'atom', atom: { kind: 'opaque', why } });

/** The operand of one of Cedar's operators: `operand(e, '&&')` is `{ left, right }` for `a && b`. */
type Operand<K extends string> = Exclude<Extract<Expr, Record<K, unknown>>[K], Expr[]>;
function operand<K extends string>(e: unknown, k: K): Operand<K> | undefined {
  return e && typeof e === 'object' && k in e ? (e as Record<K, Operand<K>>)[k] : undefined;
}

/** The arguments of an extension function call (`ip(…)`, `unknown(…)`). */
function callArgs(e: unknown, fn: string): Expr[] | undefined {
  const args = operand(e, fn) as unknown;
  return Array.isArray(args) ? (args as Expr[]) : undefined;
}

/** True for the partially evaluated resource: `unknown("resource")` or `Var resource`. */
function isResource(e: unknown): boolean {
  return operand(e, 'Var') === 'resource' || literal(callArgs(e, 'unknown')?.[0]) === 'resource';
}

/** `resource.attr` → attr, otherwise undefined. */
function resourceAttr(e: unknown): string | undefined {
  const dot = operand(e, '.');
  return dot && isResource(dot.left) ? dot.attr : undefined;
}

function literal(e: unknown): Operand<'Value'> | undefined {
  return operand(e, 'Value');
}

function entityLiteral(e: unknown): { type: string; id: string } | undefined {
  const v = literal(e);
  return v && typeof v === 'object' && '__entity' in v
    ? (v as { __entity: { type: string; id: string } }).__entity
    : undefined;
}

/** What an expression the kernel cannot evaluate reads, for the report (`context.delegation.depth`). */
function describeReads(e: Expr): string {
  const found = new Set<string>();
  const walk = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    if (Array.isArray(x)) return x.forEach(walk);
    const dot = operand(x, '.');
    if (dot) {
      const path: string[] = [dot.attr];
      let cur: Expr = dot.left;
      for (let d = operand(cur, '.'); d; d = operand(cur, '.')) {
        path.unshift(d.attr);
        cur = d.left;
      }
      const root = operand(cur, 'Var') ?? (isResource(cur) ? 'resource' : undefined);
      if (root !== undefined) {
        found.add([root, ...path].join('.'));
        return;
      }
    }
    if (operand(x, 'Var') === 'context') {
      found.add('context');
      return;
    }
    for (const v of Object.values(x)) walk(v);
  };
  walk(e);
  return found.size > 0 ? [...found].sort().join(', ') : 'an expression the kernel cannot evaluate';
}

/** Converts one residual expression. */
function toPred(e: Expr): Pred {
  if (!e || typeof e !== 'object') return opaque('a malformed expression');
  if ('Value' in e) {
    return typeof e.Value === 'boolean' ? (e.Value ? TRUE : FALSE) : opaque(describeReads(e));
  }
  const and = operand(e, '&&');
  if (and) return { op: 'and', args: [toPred(and.left), toPred(and.right)] };
  const or = operand(e, '||');
  if (or) return { op: 'or', args: [toPred(or.left), toPred(or.right)] };
  const not = operand(e, '!');
  if (not) return { op: 'not', arg: toPred(not.arg) };
  const is = operand(e, 'is');
  if (is) {
    if (isResource(is.left) && is.in === undefined)
      return { op: 'atom', atom: { kind: 'is', type: is.entity_type } };
    if (isResource(is.left)) {
      const set = entityLiteral(is.in);
      if (set)
        return {
          op: 'and',
          args: [
            { op: 'atom', atom: { kind: 'is', type: is.entity_type } },
            { op: 'atom', atom: { kind: 'inSet', ...set } },
          ],
        };
    }
    return opaque(describeReads(e));
  }
  const like = operand(e, 'like');
  if (like) {
    if (resourceAttr(like.left) === 'path')
      return { op: 'atom', atom: { kind: 'pathLike', pattern: like.pattern } };
    return opaque(describeReads(e));
  }
  const eq = operand(e, '==');
  if (eq) {
    for (const [a, b] of [
      [eq.left, eq.right],
      [eq.right, eq.left],
    ]) {
      const attr = resourceAttr(a);
      const v = literal(b);
      if (attr === 'path' && typeof v === 'string')
        return { op: 'atom', atom: { kind: 'pathEq', path: v } };
      if (attr === 'host' && typeof v === 'string')
        return { op: 'atom', atom: { kind: 'hostEq', host: v } };
      if (attr === 'port' && typeof v === 'number')
        return { op: 'atom', atom: { kind: 'portEq', port: v } };
      const ent = entityLiteral(b);
      if (isResource(a) && ent) return { op: 'atom', atom: { kind: 'eq', ...ent } };
    }
    return opaque(describeReads(e));
  }
  const inn = operand(e, 'in');
  if (inn && isResource(inn.left)) {
    const ent = entityLiteral(inn.right);
    if (ent) return { op: 'atom', atom: { kind: 'inSet', ...ent } };
    const set = literal(inn.right);
    if (Array.isArray(set)) {
      const ents = set.map((x) => entityLiteral({ Value: x }));
      if (ents.every((x) => x))
        return {
          op: 'or',
          args: ents.map((x) => ({ op: 'atom', atom: { kind: 'inSet', ...x! } }) as Pred),
        };
    }
  }
  const has = operand(e, 'has');
  if (has && isResource(has.left) && has.attr === 'port')
    return { op: 'atom', atom: { kind: 'hasPort' } };
  if (has && isResource(has.left) && has.attr === 'ip')
    return { op: 'atom', atom: { kind: 'hasIp' } };
  // resource.ip.isInRange(ip("10.0.0.0/8")), or ip(resource.host).isInRange(…) (not strict)
  const call = callArgs(e, 'isInRange');
  if (call?.length === 2) {
    const arg = callArgs(call[0], 'ip');
    const ipAttr = arg ? resourceAttr(arg[0]) === 'host' : resourceAttr(call[0]) === 'ip';
    const cidr = literal(callArgs(call[1], 'ip')?.[0]);
    if (ipAttr && typeof cidr === 'string') return { op: 'atom', atom: { kind: 'inRange', cidr } };
  }
  return opaque(describeReads(e));
}

/** A residual policy's conditions as one predicate (when → P, unless → not P). */
export function policyPred(json: PolicyJson): Pred {
  const args = json.conditions.map((c) => {
    const p = toPred(c.body);
    return c.kind === 'when' ? p : ({ op: 'not', arg: p } as Pred);
  });
  return args.length === 0 ? TRUE : args.length === 1 ? args[0]! : { op: 'and', args };
}

/** A literal: an atom or its negation. A conjunction of literals; a DNF is a list of them. */
export interface Literal {
  atom: Atom;
  negated: boolean;
}
export type Conjunction = Literal[];

/** Cases a condition may expand to before the kernel gives up on it (the gateway keeps it). */
export const MAX_CASES = 4096;

export class ConditionTooLarge extends Error {
  constructor() {
    super(`condition too large to analyze (more than ${MAX_CASES} cases)`);
  }
}

/** Disjunctive normal form (constants folded); past MAX_CASES, ConditionTooLarge. */
export function dnf(p: Pred, negate = false): Conjunction[] {
  switch (p.op) {
    case 'const':
      return p.value !== negate ? [[]] : [];
    case 'atom':
      return [[{ atom: p.atom, negated: negate }]];
    case 'not':
      return dnf(p.arg, !negate);
    case 'and':
    case 'or': {
      const conj = (p.op === 'and') !== negate;
      const parts = p.args.map((a) => dnf(a, negate));
      if (!conj) return parts.flat();
      let acc: Conjunction[] = [[]];
      for (const part of parts) {
        const next: Conjunction[] = [];
        for (const a of acc) for (const b of part) next.push([...a, ...b]);
        acc = next;
        if (acc.length > MAX_CASES) throw new ConditionTooLarge();
      }
      return acc;
    }
  }
}

/** The Cedar text of a pattern: `*` for wildcards, `\*` for a literal star. */
export function patternText(pattern: PatternElem[]): string {
  return pattern
    .map((e) => (e === 'Wildcard' ? '*' : e.Literal === '*' ? '\\*' : e.Literal))
    .join('');
}
