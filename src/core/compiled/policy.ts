// One policy (its official JSON form) → a test over a request: scope, then `when`/`unless`
// conditions in order, short-circuiting like the `&&` chain Cedar builds from them.

import type { PolicyJson } from '../cedar.js';
import type { EntityRef } from '../types.js';
import { compileExpr, inEntity, NotCompilable, type Compiled, type Env } from './expr.js';
import { EntityUid, typeError, type Value } from './values.js';

export interface CompiledPolicy {
  id: string;
  effect: 'permit' | 'forbid';
  /** True when satisfied; throws EvalError when Cedar would report the policy as erroring. */
  test: (env: Env) => boolean;
  /** The conditions alone, for a caller that already knows the scope matches. */
  conditions: (env: Env) => boolean;
}

type Var = 'principal' | 'action' | 'resource';
type ScopeTest = (env: Env) => boolean;

const uidOf = (v: unknown): EntityUid => {
  const o = v as { __entity?: EntityRef } & Partial<EntityRef>;
  const r = o.__entity ?? o;
  if (typeof r.type !== 'string' || typeof r.id !== 'string')
    throw new NotCompilable(`scope entity ${JSON.stringify(v)}`);
  return new EntityUid(r.type, r.id);
};

function compileScope(v: Var, c: Record<string, unknown>): ScopeTest | undefined {
  const get = (env: Env) => env[v];
  switch (c.op) {
    case 'All':
      return undefined;
    case '==': {
      if (!('entity' in c)) throw new NotCompilable(`${v} scope with a slot`);
      const t = uidOf(c.entity);
      return (env) => {
        const e = get(env);
        return e.type === t.type && e.id === t.id;
      };
    }
    case 'in': {
      if ('entities' in c && Array.isArray(c.entities)) {
        const ts = c.entities.map(uidOf);
        return (env) => ts.some((t) => inEntity(env, get(env), t));
      }
      if (!('entity' in c)) throw new NotCompilable(`${v} scope with a slot`);
      const t = uidOf(c.entity);
      return (env) => inEntity(env, get(env), t);
    }
    case 'is': {
      const type = c.entity_type as string;
      const inner = c.in as Record<string, unknown> | undefined;
      if (inner && !('entity' in inner)) throw new NotCompilable(`${v} scope with a slot`);
      const t = inner ? uidOf(inner.entity) : undefined;
      return (env) => {
        const e = get(env);
        return e.type === type && (!t || inEntity(env, e, t));
      };
    }
    default:
      throw new NotCompilable(`${v} scope \`${String(c.op)}\``);
  }
}

function asBool(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  throw typeError('bool', v);
}

/** The policy as a test, or NotCompilable saying what the compiler does not accept. */
export function compilePolicy(id: string, json: PolicyJson): CompiledPolicy {
  const scopes: ScopeTest[] = [];
  for (const v of ['principal', 'action', 'resource'] as const) {
    const t = compileScope(v, json[v] as Record<string, unknown>);
    if (t) scopes.push(t);
  }
  const conds: { unless: boolean; body: Compiled }[] = [];
  for (const c of json.conditions)
    conds.push({ unless: c.kind === 'unless', body: compileExpr(c.body) });
  if (json.effect !== 'permit' && json.effect !== 'forbid')
    throw new NotCompilable(`effect ${String(json.effect)}`);
  const conditions = (env: Env): boolean => {
    for (const c of conds) if (asBool(c.body(env)) === c.unless) return false;
    return true;
  };
  const test = (env: Env): boolean => {
    for (const s of scopes) if (!s(env)) return false;
    return conditions(env);
  };
  return { id, effect: json.effect, test, conditions };
}
