// Scope analysis over Cedar's own policy JSON (from policyToJson; nothing here parses Cedar):
// whether a policy's principal/resource scope can match an entity, and which context keys
// its conditions read. Cedar checks scope before conditions, so a policy whose scope does not
// match is neither satisfied nor erroring: leaving it out of an evaluation changes nothing.

import type { PolicyJson } from './cedar.js';
import type { EntityRef } from './types.js';

type ScopeConstraint = PolicyJson['principal'];

const refOf = (v: unknown): EntityRef => {
  const o = v as { __entity?: EntityRef } & EntityRef;
  return o.__entity ?? o;
};

const same = (a: EntityRef, b: EntityRef) => a.type === b.type && a.id === b.id;

/** Entity with its full ancestor closure in `parents` (as the entity store keeps it). */
export interface ScopedEntity {
  uid: EntityRef;
  parents: EntityRef[];
}

function isIn(e: ScopedEntity, target: EntityRef): boolean {
  return same(e.uid, target) || e.parents.some((p) => same(p, target));
}

export function scopeMatches(c: ScopeConstraint, e: ScopedEntity): boolean {
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return 'entity' in c ? same(e.uid, refOf(c.entity)) : true;
    case 'in':
      return 'entity' in c ? isIn(e, refOf(c.entity)) : true;
    case 'is':
      return (
        e.uid.type === c.entity_type &&
        (!c.in || !('entity' in c.in) || isIn(e, refOf(c.in.entity)))
      );
    default:
      return true; // unknown shape: keep the policy, Cedar decides
  }
}

/** The entities a scope constraint names (`== E`, `in E`, `is T in E`), for search candidates. */
export function scopeEntities(c: ScopeConstraint): EntityRef[] {
  if ((c.op === '==' || c.op === 'in') && 'entity' in c) return [refOf(c.entity)];
  if (c.op === 'is' && c.in && 'entity' in c.in) return [refOf(c.in.entity)];
  return [];
}

/** Top-level context keys a policy's conditions read, or 'all' when it uses `context` whole. */
export function contextKeysRead(json: PolicyJson): Set<string> | 'all' {
  const keys = new Set<string>();
  let all = false;
  const isContext = (x: unknown) => (x as { Var?: string })?.Var === 'context';
  const walk = (node: unknown): void => {
    if (all || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    const o = node as Record<string, unknown>;
    if ('Value' in o) return; // a literal: may hold records, never a variable
    for (const op of ['.', 'has'] as const) {
      const inner = o[op] as { left?: unknown; attr?: unknown } | undefined;
      if (inner && isContext(inner.left)) {
        const attr = Array.isArray(inner.attr) ? inner.attr[0] : inner.attr;
        if (typeof attr === 'string') keys.add(attr);
        else all = true;
        return;
      }
    }
    if (isContext(o)) {
      all = true;
      return;
    }
    for (const v of Object.values(o)) walk(v);
  };
  for (const c of json.conditions) walk(c.body);
  return all ? 'all' : keys;
}
