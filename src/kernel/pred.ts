// A Cedar residual (what partial evaluation left of a policy once the principal and action
// are known and the resource is not) as a predicate over the resource the kernel can see:
// its type, path, host, port and destination sets. Anything else (context, unknown
// attributes, extension calls the kernel cannot evaluate) becomes an opaque atom that names
// what it reads, so the report can say why a policy stays at the gateway. Pure.

import type { PolicyJson } from '../core/cedar.js';

export type Atom =
  | { kind: 'is'; type: string }
  | { kind: 'pathLike'; pattern: PatternElem[] }
  | { kind: 'pathEq'; path: string }
  | { kind: 'hostEq'; host: string }
  | { kind: 'portEq'; port: number }
  | { kind: 'hasPort' }
  | { kind: 'inRange'; cidr: string }
  | { kind: 'inSet'; type: string; id: string }
  | { kind: 'eq'; type: string; id: string }
  | { kind: 'opaque'; why: string };

export type PatternElem = 'Wildcard' | { Literal: string };

export type Pred =
  | { op: 'const'; value: boolean }
  | { op: 'atom'; atom: Atom }
  | { op: 'not'; arg: Pred }
  | { op: 'and' | 'or'; args: Pred[] };

const TRUE: Pred = { op: 'const', value: true };
const FALSE: Pred = { op: 'const', value: false };
const opaque = (why: string): Pred => ({ op: 'atom', atom: { kind: 'opaque', why } });

type Expr = Record<string, unknown>;

/** True for the partially evaluated resource: `unknown("resource")` or `Var resource`. */
function isResource(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const o = e as Expr;
  if (o.Var === 'resource') return true;
  const u = o.unknown as unknown[] | undefined;
  return Array.isArray(u) && (u[0] as Expr | undefined)?.Value === 'resource';
}

/** `resource.attr` → attr, otherwise undefined. */
function resourceAttr(e: unknown): string | undefined {
  const dot = (e as Expr | undefined)?.['.'] as { left: unknown; attr: string } | undefined;
  return dot && isResource(dot.left) ? dot.attr : undefined;
}

function literal(e: unknown): unknown {
  return e && typeof e === 'object' && 'Value' in (e as Expr) ? (e as Expr).Value : undefined;
}

function entityLiteral(e: unknown): { type: string; id: string } | undefined {
  const v = literal(e) as { __entity?: { type: string; id: string } } | undefined;
  return v && typeof v === 'object' && v.__entity ? v.__entity : undefined;
}

/** What an expression the kernel cannot evaluate reads, for the report (`context.delegation.depth`). */
export function describeReads(e: unknown): string {
  const found = new Set<string>();
  const walk = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    if (Array.isArray(x)) return x.forEach(walk);
    const o = x as Expr;
    const dot = o['.'] as { left: unknown; attr: string } | undefined;
    if (dot) {
      const path: string[] = [dot.attr];
      let cur: unknown = dot.left;
      while ((cur as Expr | undefined)?.['.']) {
        const d = (cur as Expr)['.'] as { left: unknown; attr: string };
        path.unshift(d.attr);
        cur = d.left;
      }
      const root = (cur as Expr | undefined)?.Var ?? (isResource(cur) ? 'resource' : undefined);
      if (typeof root === 'string') {
        found.add([root, ...path].join('.'));
        return;
      }
    }
    if (o.Var === 'context') {
      found.add('context');
      return;
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(e);
  return found.size > 0 ? [...found].sort().join(', ') : 'an expression the kernel cannot evaluate';
}

/** Converts one residual expression. */
export function toPred(e: unknown): Pred {
  if (!e || typeof e !== 'object') return opaque('a malformed expression');
  const o = e as Expr;
  if ('Value' in o) {
    return typeof o.Value === 'boolean' ? (o.Value ? TRUE : FALSE) : opaque(describeReads(e));
  }
  const bin = (k: string) => o[k] as { left: unknown; right: unknown } | undefined;
  if (bin('&&')) return { op: 'and', args: [toPred(bin('&&')!.left), toPred(bin('&&')!.right)] };
  if (bin('||')) return { op: 'or', args: [toPred(bin('||')!.left), toPred(bin('||')!.right)] };
  if (o['!']) return { op: 'not', arg: toPred((o['!'] as { arg: unknown }).arg) };
  if (o.is) {
    const is = o.is as { left: unknown; entity_type: string; in?: unknown };
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
  if (o.like) {
    const like = o.like as { left: unknown; pattern: PatternElem[] };
    if (resourceAttr(like.left) === 'path')
      return { op: 'atom', atom: { kind: 'pathLike', pattern: like.pattern } };
    return opaque(describeReads(e));
  }
  const eq = bin('==');
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
  const inn = bin('in');
  if (inn && isResource(inn.left)) {
    const ent = entityLiteral(inn.right);
    if (ent) return { op: 'atom', atom: { kind: 'inSet', ...ent } };
    const set = literal(inn.right);
    if (Array.isArray(set)) {
      const ents = set.map((x) => (x as { __entity?: { type: string; id: string } }).__entity);
      if (ents.every((x) => x))
        return {
          op: 'or',
          args: ents.map((x) => ({ op: 'atom', atom: { kind: 'inSet', ...x! } }) as Pred),
        };
    }
  }
  if (o.has) {
    const has = o.has as { left: unknown; attr: string };
    if (isResource(has.left) && has.attr === 'port')
      return { op: 'atom', atom: { kind: 'hasPort' } };
  }
  // ip(resource.host).isInRange(ip("10.0.0.0/8"))
  const call = o.isInRange as unknown[] | undefined;
  if (Array.isArray(call) && call.length === 2) {
    const arg = (call[0] as Expr | undefined)?.ip as unknown[] | undefined;
    const range = ((call[1] as Expr | undefined)?.ip as unknown[] | undefined)?.[0];
    const cidr = literal(range);
    if (Array.isArray(arg) && resourceAttr(arg[0]) === 'host' && typeof cidr === 'string')
      return { op: 'atom', atom: { kind: 'inRange', cidr } };
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

/** Disjunctive normal form (constants folded). Policies are small; the blow-up is bounded. */
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
        if (acc.length > 4096) throw new Error('condition too large to analyze');
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
