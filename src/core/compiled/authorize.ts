// Cedar's authorization over compiled policies: every policy is evaluated; an erroring one is
// skipped and reported; a satisfied forbid denies; else a satisfied permit allows; else deny.

import type { SlicedEntity } from '../entities.js';
import type { EntityRef } from '../types.js';
import type { Env } from './expr.js';
import type { CompiledPolicy } from './policy.js';
import {
  CedarRecord,
  EntityUid,
  EvalError,
  Unsupported,
  checkJson,
  plainTypeName,
} from './values.js';

export interface CompiledAnswer {
  allowed: boolean;
  determining: string[];
  errors: { policy: string; message: string }[];
}

export interface CompiledRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context: Record<string, unknown>;
  /** Exactly the entities cedar-wasm would be given. */
  entities: SlicedEntity[];
}

const checked = new WeakSet<SlicedEntity>();

const plainRef = (r: EntityRef) => plainTypeName(r.type) && typeof r.id === 'string';

/** Whether cedar-wasm would read this entity exactly as the compiled evaluator does. */
function entityOk(e: SlicedEntity): boolean {
  if (checked.has(e)) return true;
  const ok =
    plainRef(e.uid) &&
    e.parents.every(plainRef) &&
    e.attrs !== null &&
    typeof e.attrs === 'object' &&
    !Array.isArray(e.attrs) &&
    checkJson(e.attrs) &&
    (e.tags === undefined ||
      (e.tags !== null &&
        typeof e.tags === 'object' &&
        !Array.isArray(e.tags) &&
        checkJson(e.tags)));
  // Store entities are immutable once loaded; a fresh object is checked again.
  if (ok) checked.add(e);
  return ok;
}

function makeEnv(req: CompiledRequest): Env {
  for (const r of [req.principal, req.action, req.resource])
    if (!plainRef(r)) throw new Unsupported(`entity type ${r.type}`);
  const ctx = req.context;
  if (ctx === null || typeof ctx !== 'object' || Array.isArray(ctx) || !checkJson(ctx))
    throw new Unsupported('a context value cedar-wasm must judge');
  const entities = req.entities;
  const seen = new Set<string>();
  for (const e of entities) {
    if (!entityOk(e)) throw new Unsupported(`entity ${e.uid.type}::"${e.uid.id}" data`);
    const k = `${e.uid.type}\0${e.uid.id}`;
    // Cedar rejects duplicate entities; the slice never has them, but say so rather than guess.
    if (seen.has(k)) throw new Unsupported('duplicate entity in the slice');
    seen.add(k);
  }
  return {
    principal: new EntityUid(req.principal.type, req.principal.id),
    action: new EntityUid(req.action.type, req.action.id),
    resource: new EntityUid(req.resource.type, req.resource.id),
    context: new CedarRecord(ctx, true),
    entity(uid) {
      for (let i = 0; i < entities.length; i++) {
        const e = entities[i]!;
        if (e.uid.id === uid.id && e.uid.type === uid.type) return e;
      }
      return undefined;
    },
  };
}

/**
 * Authorizes with compiled policies. Throws Unsupported when the request holds something
 * only cedar-wasm can judge; any other throw is an evaluator bug and the caller must not allow.
 */
export function authorizeCompiled(
  policies: readonly CompiledPolicy[],
  req: CompiledRequest,
  /** The caller selected policies whose scopes match this request: test conditions only. */
  scopesMatched = false,
): CompiledAnswer {
  const env = makeEnv(req);
  const forbids: string[] = [];
  const permits: string[] = [];
  const errors: { policy: string; message: string }[] = [];
  for (const p of policies) {
    let ok: boolean;
    try {
      ok = scopesMatched ? p.conditions(env) : p.test(env);
    } catch (e) {
      if (e instanceof EvalError) {
        errors.push({ policy: p.id, message: e.message });
        continue;
      }
      throw e;
    }
    if (ok) (p.effect === 'forbid' ? forbids : permits).push(p.id);
  }
  const allowed = forbids.length === 0 && permits.length > 0;
  return {
    allowed,
    determining: (forbids.length > 0 ? forbids : permits).sort(),
    errors: errors.sort((a, b) => (a.policy < b.policy ? -1 : 1)),
  };
}
