// The attributes a PEP passes for a resource, checked against the schema before deciding (HTTP
// /v1/decide answers a contradiction with a 400): a wrong type or a missing required attribute
// would otherwise surface as an erroring policy and a denial that names neither.

import { derivedAttrs, ResourceError } from './engine.js';
import type { CompiledPolicySet } from './policy-set.js';
import { shapeProblem } from './schema-info.js';
import type { ResourceRef } from './types.js';

/** Why `resource.attrs` contradicts the set's schema, or undefined (also without a schema). */
export function resourceAttrsProblem(
  set: CompiledPolicySet,
  resource: ResourceRef,
): string | undefined {
  const { attrs } = resource;
  // Only a resource the PEP describes; an undeclared type is the engine's (it denies).
  if (!attrs || !set.schema?.entityTypes.has(resource.type)) return undefined;
  // An entity type declared without attributes has none (Cedar's reading of the schema).
  const shape = set.schema.entityShapes.get(resource.type) ?? {};
  let derived: Record<string, unknown>;
  try {
    derived = derivedAttrs(resource.type, resource.id);
  } catch (e) {
    if (e instanceof ResourceError) return undefined; // the engine denies it, naming the id
    throw e;
  }
  const listed = set.store.get(resource.type, resource.id);
  // What the id derives and what entities.json lists win over the caller's value (the decision
  // reports it under `ignored`): not the caller's mistake to answer with a 400.
  const overridden = (k: string) =>
    Object.hasOwn(derived, k) || (listed !== undefined && Object.hasOwn(listed.attrs, k));
  const merged = { ...attrs, ...listed?.attrs, ...derived };
  return (
    shapeProblem(attrs, shape, 'resource.attrs', false, overridden) ??
    shapeProblem(merged, shape, 'resource.attrs', true, () => true)
  );
}
