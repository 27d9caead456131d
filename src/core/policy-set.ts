// A loaded, validated policy set. A decision evaluates only the policies that can apply to
// it: those whose action scope names the action (or a group it is in) and whose principal and
// resource scopes can match. Each such subset is preparsed into Cedar's cache once and reused.

import { cedar } from './cedar.js';
import type { PolicyJson } from './cedar.js';
import {
  compiledPolicy,
  compileSubset,
  type CompiledPolicy,
  type EngineKind,
} from './compiled/index.js';
import type { PolicySources } from './compile.js';
import type { EntityStore, SlicedEntity } from './entities.js';
import type { SchemaInfo } from './schema-info.js';
import { scopeMatches } from './scope.js';

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
  /** Context keys the conditions read ('all' when the policy uses `context` as a whole). */
  contextKeys: Set<string> | 'all';
  /** `@mode("shadow")`: evaluated and reported, never part of the outcome. */
  shadow?: boolean;
}

/** A shadow policy a subset's request could meet, and (built on first use) the subset with it in force. */
export interface ShadowVariant {
  policy: PolicyMeta;
  subset?: Subset;
}

/** The policies one evaluation needs, preparsed. */
export interface Subset {
  id: string;
  size: number;
  /** The same subset without the forbids an approval waives; undefined when there are none. */
  approvedId: string | undefined;
  /** Context keys any of its policies reads: the rest need not cross into Cedar. */
  contextKeys: Set<string> | 'all';
  /** The compiled policies (engine `compiled`), undefined when cedar-wasm evaluates it. */
  compiled: CompiledPolicy[] | undefined;
  /** The compiled policies once an approval waives its gates (with `approvedId`). */
  compiledApproved: CompiledPolicy[] | undefined;
  /** Whether `id`/`approvedId` are in cedar-wasm's cache (compiled subsets preparse on first need). */
  preparsed: boolean;
  /** The policies in force (shadow policies are not). */
  policies: PolicyMeta[];
  /** Shadow policies whose scopes match: each is evaluated as if in force, to report what it would do. */
  shadow: ShadowVariant[];
}

export interface PolicySetOptions {
  /** `compiled` (default): Cordon's compiled evaluator, cedar-wasm for what it does not accept. */
  engine?: EngineKind;
}

/** A policy the compiled evaluator leaves to cedar-wasm, and why. */
export interface EngineFallback {
  policy: string;
  reason: string;
}

/** Preparsed subsets kept per policy set; the least recently used is freed beyond this. */
const MAX_SUBSETS = 1024;
/** Remembered selections per policy set; the map starts over beyond this. */
const MAX_SELECTIONS = 16384;
const UNLISTED = '\u0000unlisted';
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
  private readonly byAction = new Map<string, PolicyMeta[]>();
  private readonly subsets = new Map<string, Subset>();
  /** (action, principal, resource) of listed entities → the key of their subset. */
  private readonly selections = new Map<string, string>();
  private readonly knownActions: Set<string>;
  /** Actions some policy's action scope names explicitly (MCP asks on every list and result). */
  private readonly namedActions = new Set<string>();
  private nextId = 0;
  private disposed = false;
  readonly engine: EngineKind;
  /** Policies the compiled evaluator does not accept (any subset holding one uses cedar-wasm). */
  readonly fallbacks: EngineFallback[] = [];
  /** Evaluations the compiled engine handed to cedar-wasm at run time (request data it does not model). */
  runtimeFallbacks = 0;
  /** The last internal error of the compiled evaluator (its evaluation went to cedar-wasm). */
  lastInternalError: string | undefined;

  constructor(
    readonly version: string,
    readonly policies: ReadonlyMap<string, PolicyMeta>,
    readonly store: EntityStore,
    readonly schema: SchemaInfo | undefined,
    /** The texts it was compiled from, so the version can be stored and re-evaluated later. */
    readonly sources: PolicySources,
    options: PolicySetOptions = {},
  ) {
    this.engine = options.engine ?? 'compiled';
    if (this.engine === 'compiled') {
      // Compiled once at load, so `cordon policy validate` and the logs can say what falls back.
      for (const p of policies.values()) {
        const c = compiledPolicy(p);
        if (!c.ok) this.fallbacks.push({ policy: p.id, reason: c.reason });
      }
    }
    this.knownActions = new Set(schema?.actions ?? []);
    for (const p of policies.values()) {
      const acts = actionsIn(p.json);
      if (acts === 'all') continue;
      for (const a of acts) {
        this.knownActions.add(a);
        this.namedActions.add(a);
      }
    }
  }

  /** True when the action is declared (schema), listed (entities.json) or named by a policy. */
  isKnownAction(action: string): boolean {
    return this.knownActions.has(action) || this.store.has('Action', action);
  }

  get size(): number {
    return this.policies.size;
  }

  /** Every action known by name: declared, listed in entities.json, or named by a policy. */
  actionNames(): string[] {
    const names = new Set(this.knownActions);
    for (const a of this.store.ofType('Action')) names.add(a.id);
    return [...names];
  }

  /** Whether some policy's action scope names this action explicitly (not just `action`). */
  namesAction(action: string): boolean {
    return this.namedActions.has(action);
  }

  /**
   * Policies in force whose action scope admits `action`: unconstrained ones, and those naming it
   * or a group it is in. Shadow policies are left out: they never decide.
   */
  policiesFor(action: string): PolicyMeta[] {
    const all = this.candidatesFor(action);
    return this.hasShadow ? all.filter((p) => !p.shadow) : all;
  }

  /** Whether some policy is a shadow policy. */
  get hasShadow(): boolean {
    return (this.shadowCount ??= [...this.policies.values()].filter((p) => p.shadow).length) > 0;
  }
  private shadowCount: number | undefined;

  /** Every policy the action index offers for `action`, shadow ones too (`policy explain` lists them). */
  indexedFor(action: string): readonly PolicyMeta[] {
    return this.candidatesFor(action);
  }

  /** Like policiesFor, with the shadow policies (a subset is selected from these). */
  private candidatesFor(action: string): PolicyMeta[] {
    // Unknown action names share one entry, so arbitrary names cannot grow the index.
    const key = this.isKnownAction(action) ? action : UNLISTED;
    const hit = this.byAction.get(key);
    if (hit) return hit;
    // The store holds each action's ancestor closure, so `action in Action::"group"` is a lookup.
    const groups = new Set([
      action,
      ...(this.store.get('Action', action)?.parents ?? []).map((p) => p.id),
    ]);
    const selected = [...this.policies.values()].filter((p) => {
      const acts = actionsIn(p.json);
      return acts === 'all' || (key !== UNLISTED && acts.some((a) => groups.has(a)));
    });
    this.byAction.set(key, selected);
    return selected;
  }

  /** The preparsed subset for one evaluation. Must be used before the caller yields. */
  subsetFor(action: string, principal: SlicedEntity, resource: SlicedEntity): Subset {
    if (this.disposed) throw new Error('policy set was replaced and disposed');
    // Scope matching reads only uids and ancestor closures: for listed entities (whose closure
    // is the store's) the selection is remembered, so a decision need not rescan the action's policies.
    const memoKey =
      this.listedClosure(principal) && this.listedClosure(resource)
        ? `${action}\0${principal.uid.type}\0${principal.uid.id}\0${resource.uid.type}\0${resource.uid.id}`
        : undefined;
    let key = memoKey === undefined ? undefined : this.selections.get(memoKey);
    let selected: PolicyMeta[] | undefined;
    if (key === undefined) {
      const candidates = this.candidatesFor(action);
      selected = [];
      key = this.isKnownAction(action) ? action : UNLISTED;
      for (let i = 0; i < candidates.length; i++) {
        const p = candidates[i]!;
        if (scopeMatches(p.json.principal, principal) && scopeMatches(p.json.resource, resource)) {
          selected.push(p);
          key += `,${i}`;
        }
      }
      if (memoKey !== undefined) {
        if (this.selections.size >= MAX_SELECTIONS) this.selections.clear();
        this.selections.set(memoKey, key);
      }
    }
    const hit = this.subsets.get(key);
    if (hit) {
      this.subsets.delete(key); // refresh its place in the LRU order
      this.subsets.set(key, hit);
      return hit;
    }
    if (!selected) {
      // Remembered selection whose subset the LRU has since dropped: select again.
      const candidates = this.candidatesFor(action);
      selected = candidates.filter(
        (p) => scopeMatches(p.json.principal, principal) && scopeMatches(p.json.resource, resource),
      );
    }
    const subset = this.buildSubset(selected, action);
    this.subsets.set(key, subset);
    if (this.subsets.size > MAX_SUBSETS) {
      const [oldestKey, oldest] = this.subsets.entries().next().value as [string, Subset];
      this.subsets.delete(oldestKey);
      free(oldest);
    }
    return subset;
  }

  /** A policy's action scope against the action as evaluations see it (the store's closure). */
  private actionScopeMatches(c: PolicyJson['action'], action: string): boolean {
    const entity = this.store.get('Action', action) ?? {
      uid: { type: 'Action', id: action },
      parents: [],
    };
    if (c.op === 'in' && 'entities' in c)
      return c.entities.some((t) => scopeMatches({ op: 'in', entity: t } as never, entity));
    return scopeMatches(c as PolicyJson['principal'], entity);
  }

  /** Whether the entity's ancestors are the store's own closure for it (it is listed, unchanged). */
  private listedClosure(e: SlicedEntity): boolean {
    return this.store.get(e.uid.type, e.uid.id)?.parents === e.parents;
  }

  /**
   * The subset with its `index`th shadow policy in force, built on first use and kept with the
   * subset. Must be used before the caller yields, like the subset.
   */
  shadowSubset(subset: Subset, index: number, action: string): Subset {
    const variant = subset.shadow[index]!;
    variant.subset ??= this.buildSubset([...subset.policies, variant.policy], action, true);
    return variant.subset;
  }

  private buildSubset(all: PolicyMeta[], action: string, inForce = false): Subset {
    const id = `cordon-g${this.generation}-${this.nextId++}`;
    const selected = inForce ? all : all.filter((p) => !p.shadow);
    const shadow = inForce ? [] : all.filter((p) => p.shadow).map((policy) => ({ policy }));
    const waived = selected.filter(
      (p) => p.effect === 'forbid' && p.outcome === 'require_approval',
    );
    const approvedId = waived.length > 0 ? `${id}-approved` : undefined;
    // Principal and resource scopes matched when the subset was selected (its key is that
    // selection); the action scope is settled here, so compiled policies test conditions only.
    const compiled =
      this.engine === 'compiled'
        ? compileSubset(selected.filter((p) => this.actionScopeMatches(p.json.action, action)))
        : undefined;
    const compiledApproved =
      compiled && waived.length > 0
        ? compiled.filter((c) => !waived.some((w) => w.id === c.id))
        : undefined;
    let contextKeys: Set<string> | 'all' = new Set();
    for (const p of selected) {
      if (p.contextKeys === 'all') {
        contextKeys = 'all';
        break;
      }
      for (const k of p.contextKeys) contextKeys.add(k);
    }
    const subset: Subset = {
      id,
      size: selected.length,
      approvedId,
      contextKeys,
      compiled,
      compiledApproved,
      preparsed: false,
      policies: selected,
      shadow,
    };
    if (!compiled) this.ensurePreparsed(subset);
    return subset;
  }

  /** Puts the subset into cedar-wasm's cache (a compiled subset only when it needs the fallback). */
  ensurePreparsed(subset: Subset): void {
    if (subset.preparsed) return;
    if (this.disposed) throw new Error('policy set was replaced and disposed');
    preparse(subset.id, subset.policies);
    if (subset.approvedId) {
      const kept = subset.policies.filter(
        (p) => !(p.effect === 'forbid' && p.outcome === 'require_approval'),
      );
      preparse(subset.approvedId, kept);
    }
    subset.preparsed = true;
  }

  /** Frees the preparsed sets in Cedar's cache once no request can still be using them. */
  dispose(): void {
    this.disposed = true;
    for (const s of this.subsets.values()) free(s);
    this.subsets.clear();
  }
}

function free(s: Subset): void {
  for (const v of s.shadow) if (v.subset) free(v.subset);
  if (!s.preparsed) return;
  s.preparsed = false;
  preparse(s.id, []);
  if (s.approvedId) preparse(s.approvedId, []);
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
