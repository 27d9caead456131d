// Cedar policy JSON (cedar-wasm's policyToJson form) → JavaScript closures. Each closure
// evaluates one expression with Cedar's semantics: values in, a value out, EvalError for what
// Cedar reports as an evaluation error. Shapes this compiler does not know throw
// NotCompilable at compile time, and the policy is left to cedar-wasm.

import type { Expr, PatternElem } from '../cedar.js';
import type { SlicedEntity } from '../entities.js';
import { EXTENSION_FUNCTIONS, orderKey } from './extensions.js';
import {
  CedarRecord,
  CedarSet,
  EntityUid,
  EvalError,
  checkJson,
  equals,
  fromJson,
  isLong,
  long,
  setHas,
  typeError,
  type Long,
  type Value,
} from './values.js';

/** The request as the compiled policies read it. */
export interface Env {
  principal: EntityUid;
  action: EntityUid;
  resource: EntityUid;
  context: CedarRecord;
  /** The entity slice Cedar would get; anything not in it is "not found". */
  entity(uid: EntityUid): SlicedEntity | undefined;
}

export type Compiled = (env: Env) => Value;

export class NotCompilable extends Error {}

const VARS = new Set(['principal', 'action', 'resource', 'context']);

// ---- operations shared with the scope compiler ----

const ANCESTOR_SETS = new WeakMap<readonly unknown[], Set<string>>();
const uidKey = (type: string, id: string) => `${type}\0${id}`;

/** `a in b` for entities: reflexive, else b among a's precomputed ancestors (none if not found). */
export function inEntity(env: Env, a: EntityUid, b: EntityUid): boolean {
  if (a.type === b.type && a.id === b.id) return true;
  const parents = env.entity(a)?.parents;
  if (!parents || parents.length === 0) return false;
  if (parents.length <= 8) return parents.some((p) => p.type === b.type && p.id === b.id);
  let set = ANCESTOR_SETS.get(parents);
  if (!set) {
    set = new Set(parents.map((p) => uidKey(p.type, p.id)));
    ANCESTOR_SETS.set(parents, set);
  }
  return set.has(uidKey(b.type, b.id));
}

const asBool = (v: Value): boolean => {
  if (typeof v === 'boolean') return v;
  throw typeError('bool', v);
};
const asEntity = (v: Value): EntityUid => {
  if (v instanceof EntityUid) return v;
  throw typeError('entity', v);
};
const asSet = (v: Value): CedarSet => {
  if (v instanceof CedarSet) return v;
  throw typeError('set', v);
};
const asString = (v: Value): string => {
  if (typeof v === 'string') return v;
  throw typeError('string', v);
};
const asLong = (v: Value): Long => {
  if (isLong(v)) return v;
  throw typeError('long', v);
};

const big = (v: Long): bigint => (typeof v === 'bigint' ? v : BigInt(v));

function arith(op: '+' | '-' | '*', a: Long, b: Long): Long {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = op === '+' ? a + b : op === '-' ? a - b : a * b;
    if (Number.isSafeInteger(r)) return r;
  }
  const x = big(a);
  const y = big(b);
  return long(op === '+' ? x + y : op === '-' ? x - y : x * y, `${a} ${op} ${b}`);
}

function inOp(env: Env, l: Value, r: Value): boolean {
  const a = asEntity(l);
  if (r instanceof EntityUid) return inEntity(env, a, r);
  if (r instanceof CedarSet) {
    // Cedar checks every element is an entity before answering.
    const uids = r.items.map(asEntity);
    return uids.some((u) => inEntity(env, a, u));
  }
  throw typeError('entity or set of entities', r);
}

function attrsOf(env: Env, v: Value, forHas: boolean): CedarRecord | undefined {
  if (v instanceof CedarRecord) return v;
  if (v instanceof EntityUid) {
    const e = env.entity(v);
    if (!e) {
      if (forHas) return undefined;
      throw new EvalError(`entity ${v.type}::"${v.id}" does not exist`);
    }
    return new CedarRecord(e.attrs, true);
  }
  throw typeError('entity or record', v);
}

function getAttr(env: Env, v: Value, attr: string): Value {
  const r = attrsOf(env, v, false)!;
  const out = r.get(attr);
  if (out === undefined) throw new EvalError(`no attribute \`${attr}\``);
  return out;
}

function hasAttr(env: Env, v: Value, attr: string): boolean {
  return attrsOf(env, v, true)?.has(attr) ?? false;
}

function tagsOf(env: Env, v: Value): Record<string, unknown> | undefined {
  return env.entity(asEntity(v))?.tags;
}

function likeRegex(pattern: PatternElem[]): RegExp {
  let src = '';
  for (const p of pattern) {
    if (p === 'Wildcard') src += '.*';
    else src += p.Literal.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  }
  // `s`: `*` matches newlines too; `u`: by code point, as Cedar matches characters.
  return new RegExp(`^${src}$`, 'su');
}

// ---- the compiler ----

type Bin = { left: Expr; right: Expr };
const bin = (o: unknown) => o as Bin;

export function compileExpr(e: Expr): Compiled {
  const o = e as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new NotCompilable(`expression with keys ${keys.join(',')}`);
  const op = keys[0]!;
  const body = o[op];
  switch (op) {
    case 'Value': {
      if (!checkJson(body) || body === undefined)
        throw new NotCompilable(`literal ${JSON.stringify(body)}`);
      const v = fromJson(body);
      return () => v;
    }
    case 'Var': {
      const name = body as string;
      if (!VARS.has(name)) throw new NotCompilable(`variable ${name}`);
      if (name === 'principal') return (env) => env.principal;
      if (name === 'action') return (env) => env.action;
      if (name === 'resource') return (env) => env.resource;
      return (env) => env.context;
    }
    case '!': {
      const a = compileExpr((body as { arg: Expr }).arg);
      return (env) => !asBool(a(env));
    }
    case 'neg': {
      const a = compileExpr((body as { arg: Expr }).arg);
      return (env) => {
        const v = asLong(a(env));
        return typeof v === 'number' ? (v === 0 ? 0 : -v) : long(-v, 'negation');
      };
    }
    case '&&':
    case '||': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return op === '&&'
        ? (env) => asBool(l(env)) && asBool(r(env))
        : (env) => asBool(l(env)) || asBool(r(env));
    }
    case '==':
    case '!=': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return op === '==' ? (env) => equals(l(env), r(env)) : (env) => !equals(l(env), r(env));
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return (env) => {
        const [a, b] = orderKey(l(env), r(env));
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
      };
    }
    case '+':
    case '-':
    case '*': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return (env) => {
        const a = l(env);
        const b = r(env);
        return arith(op, asLong(a), asLong(b));
      };
    }
    case 'in': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return (env) => {
        const a = l(env);
        return inOp(env, a, r(env));
      };
    }
    case 'contains': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return (env) => {
        const s = l(env);
        const v = r(env);
        return setHas(asSet(s), v);
      };
    }
    case 'containsAll':
    case 'containsAny': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return (env) => {
        const a = l(env);
        const b = r(env);
        const sa = asSet(a);
        const sb = asSet(b);
        return op === 'containsAll'
          ? sb.items.every((x) => setHas(sa, x))
          : sb.items.some((x) => setHas(sa, x));
      };
    }
    case 'isEmpty': {
      const a = compileExpr((body as { arg: Expr }).arg);
      return (env) => asSet(a(env)).items.length === 0;
    }
    case 'hasTag':
    case 'getTag': {
      const l = compileExpr(bin(body).left);
      const r = compileExpr(bin(body).right);
      return op === 'hasTag'
        ? (env) => {
            const e = l(env);
            const tag = asString(r(env));
            const tags = tagsOf(env, e);
            return !!tags && Object.hasOwn(tags, tag) && tags[tag] !== undefined;
          }
        : (env) => {
            const e = l(env);
            const tag = asString(r(env));
            const tags = tagsOf(env, e);
            if (!tags || !Object.hasOwn(tags, tag) || tags[tag] === undefined)
              throw new EvalError(`no tag \`${tag}\``);
            return fromJson(tags[tag]);
          };
    }
    case '.': {
      const { left, attr } = body as { left: Expr; attr: string };
      const l = compileExpr(left);
      return (env) => getAttr(env, l(env), attr);
    }
    case 'has': {
      const { left, attr } = body as { left: Expr; attr: string | string[] };
      const l = compileExpr(left);
      const path = Array.isArray(attr) ? attr : [attr];
      if (path.length === 0) throw new NotCompilable('has with no attribute');
      // `e has a.b` is `e has a && e.a has b`.
      return (env) => {
        let v = l(env);
        for (let i = 0; i < path.length; i++) {
          if (!hasAttr(env, v, path[i]!)) return false;
          if (i < path.length - 1) v = getAttr(env, v, path[i]!);
        }
        return true;
      };
    }
    case 'like': {
      const { left, pattern } = body as { left: Expr; pattern: PatternElem[] };
      const l = compileExpr(left);
      const re = likeRegex(pattern);
      return (env) => re.test(asString(l(env)));
    }
    case 'is': {
      const b = body as { left: Expr; entity_type: string; in?: Expr };
      const l = compileExpr(b.left);
      const r = b.in === undefined ? undefined : compileExpr(b.in);
      const type = b.entity_type;
      return (env) => {
        const v = asEntity(l(env));
        if (v.type !== type) return false;
        return r ? inOp(env, v, r(env)) : true;
      };
    }
    case 'if-then-else': {
      const b = body as { if: Expr; then: Expr; else: Expr };
      const c = compileExpr(b.if);
      const t = compileExpr(b.then);
      const f = compileExpr(b.else);
      return (env) => (asBool(c(env)) ? t(env) : f(env));
    }
    case 'Set': {
      const items = (body as Expr[]).map(compileExpr);
      return (env) => new CedarSet(items.map((i) => i(env)));
    }
    case 'Record': {
      const entries = Object.entries(body as Record<string, Expr>).map(
        ([k, x]) => [k, compileExpr(x)] as const,
      );
      return (env) => {
        const out: Record<string, Value> = {};
        for (const [k, f] of entries) out[k] = f(env);
        return new CedarRecord(out, false);
      };
    }
    case 'Slot':
      throw new NotCompilable('template slot');
    default: {
      const fn = EXTENSION_FUNCTIONS[op];
      if (!fn || !Array.isArray(body)) throw new NotCompilable(`function or operator \`${op}\``);
      if (body.length !== fn.arity)
        throw new NotCompilable(`\`${op}\` with ${body.length} arguments`);
      const args = (body as Expr[]).map(compileExpr);
      // A constructor over a literal is evaluated once, here (an invalid one errors each time).
      if (args.length === 1 && (body[0] as { Value?: unknown }).Value !== undefined) {
        try {
          const v = fn.call([args[0]!({} as Env)]);
          return () => v;
        } catch (err) {
          if (!(err instanceof EvalError)) throw new NotCompilable(String(err));
        }
      }
      return (env) => fn.call(args.map((a) => a(env)));
    }
  }
}
