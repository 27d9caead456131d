// The compiled Cedar evaluator: policies compiled once from their official JSON form, each
// kept beside its PolicyMeta, and a subset's compiled policies when all of them compile.

import type { PolicyMeta } from '../policy-set.js';
import './extensions.js'; // registers the extension value parser used by values.ts
import { NotCompilable } from './expr.js';
import { compilePolicy, type CompiledPolicy } from './policy.js';

export { authorizeCompiled, type CompiledAnswer, type CompiledRequest } from './authorize.js';
export { Unsupported } from './values.js';
export type { CompiledPolicy } from './policy.js';

/** Which evaluator decides: the compiled one (cedar-wasm for what it does not accept), or cedar-wasm. */
export type EngineKind = 'compiled' | 'wasm';

export type PolicyCompilation =
  { ok: true; policy: CompiledPolicy } | { ok: false; reason: string };

const cache = new WeakMap<PolicyMeta, PolicyCompilation>();

/** A policy compiled (once per PolicyMeta), or why it is left to cedar-wasm. */
export function compiledPolicy(meta: PolicyMeta): PolicyCompilation {
  const hit = cache.get(meta);
  if (hit) return hit;
  let out: PolicyCompilation;
  try {
    out = { ok: true, policy: compilePolicy(meta.id, meta.json) };
  } catch (e) {
    // A compiler bug must not break loading: the policy goes to cedar-wasm instead.
    const why = e instanceof NotCompilable ? e.message : `internal error: ${(e as Error).message}`;
    out = { ok: false, reason: why };
  }
  cache.set(meta, out);
  return out;
}

/** The subset's compiled policies, or undefined when one of them must go to cedar-wasm. */
export function compileSubset(policies: readonly PolicyMeta[]): CompiledPolicy[] | undefined {
  const out: CompiledPolicy[] = [];
  for (const p of policies) {
    const c = compiledPolicy(p);
    if (!c.ok) return undefined;
    out.push(c.policy);
  }
  return out;
}
