// A loaded, validated policy set: policies indexed by action and preparsed into Cedar's cache,
// so a decision only pays for the policies that can apply to its action.

import { cedar } from './cedar.js';
import type { PolicyJson } from './cedar.js';
import { EntityStore } from './entities.js';
import type { SchemaInfo } from './schema-info.js';

export type PolicyOutcome = 'require_approval' | 'restrict' | 'isolate';
export const POLICY_OUTCOMES: readonly PolicyOutcome[] = [
  'require_approval',
  'restrict',
  'isolate',
];

export interface PolicyMeta {
  id: string;
  file: string;
  effect: 'permit' | 'forbid';
  annotations: Record<string, string>;
  outcome?: PolicyOutcome;
  text: string;
  json: PolicyJson;
}

export interface Bucket {
  /** Preparsed policy set id for this action. */
  id: string;
  size: number;
  /** The same set without the forbids an approval waives; undefined when there are none. */
  approvedId: string | undefined;
}

let generation = 0;

function actionsIn(json: PolicyJson): 'all' | string[] {
  const a = json.action;
  if (a.op === 'All') return 'all';
  const ids = (refs: unknown[]) =>
    refs.map((r) => ((r as { __entity?: { id: string } }).__entity ?? (r as { id: string })).id);
  if (a.op === '==') return 'entity' in a ? ids([a.entity]) : [];
  return 'entities' in a ? ids(a.entities) : ids([a.entity]);
}

export class CompiledPolicySet {
  readonly generation = ++generation;
  private readonly buckets = new Map<string, Bucket>();
  private readonly knownActions: Set<string>;
  private disposed = false;

  constructor(
    readonly version: string,
    readonly policies: ReadonlyMap<string, PolicyMeta>,
    readonly store: EntityStore,
    readonly schema: SchemaInfo | undefined,
  ) {
    this.knownActions = new Set(schema?.actions ?? []);
    for (const p of policies.values()) {
      const acts = actionsIn(p.json);
      if (acts !== 'all') for (const a of acts) this.knownActions.add(a);
    }
    // Actions listed in entities.json (action groups without a schema) are known too.
    for (const a of this.knownActions) this.bucket(a);
  }

  /** True when the action is declared (schema) or at least named somewhere (no schema). */
  isKnownAction(action: string): boolean {
    return this.knownActions.has(action) || this.store.has('Action', action);
  }

  get size(): number {
    return this.policies.size;
  }

  /** The policies that can apply to `action`: unconstrained ones, and those naming it or a group it is in. */
  bucket(action: string): Bucket {
    const key = this.isKnownAction(action) ? action : '\u0000unlisted';
    const hit = this.buckets.get(key);
    if (hit) return hit;
    if (this.disposed) throw new Error('policy set was replaced and disposed');
    // The store holds each action's ancestor closure, so `action in Action::"group"` is a lookup.
    const groups = new Set([
      action,
      ...(this.store.get('Action', action)?.parents ?? []).map((p) => p.id),
    ]);
    const selected: PolicyMeta[] = [];
    for (const p of this.policies.values()) {
      const acts = actionsIn(p.json);
      if (acts === 'all' || (key !== '\u0000unlisted' && acts.some((a) => groups.has(a))))
        selected.push(p);
    }
    const id = `cordon-g${this.generation}-${this.buckets.size}`;
    preparse(id, selected);
    const waived = selected.filter(
      (p) => p.effect === 'forbid' && p.outcome === 'require_approval',
    );
    let approvedId: string | undefined;
    if (waived.length > 0) {
      approvedId = `${id}-approved`;
      preparse(
        approvedId,
        selected.filter((p) => !waived.includes(p)),
      );
    }
    const b: Bucket = { id, size: selected.length, approvedId };
    this.buckets.set(key, b);
    return b;
  }

  /** Frees the preparsed sets in Cedar's cache once no request can still be using them. */
  dispose(): void {
    this.disposed = true;
    for (const b of this.buckets.values()) {
      preparse(b.id, []);
      if (b.approvedId) preparse(b.approvedId, []);
    }
    this.buckets.clear();
  }
}

function preparse(id: string, policies: PolicyMeta[]): void {
  const staticPolicies: Record<string, string> = {};
  for (const p of policies) staticPolicies[p.id] = p.text;
  const r = cedar.preparsePolicySet(id, { staticPolicies });
  if (r.type !== 'success') {
    // The texts were parsed once already; failing here is an engine bug, never a user error.
    throw new Error(
      `internal: preparse of ${id} failed: ${r.errors.map((e) => e.message).join('; ')}`,
    );
  }
}
