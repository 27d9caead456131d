// What the engine needs from a Cedar schema at run time: which entity types exist, the action
// hierarchy (so `action in Action::"group"` works without shipping the schema per call) and
// each action's context shape (so declared keys can be filled with defaults).

import type { CedarEntity } from './entities.js';

type SchemaType = {
  type: string;
  name?: string;
  element?: SchemaType;
  attributes?: Record<string, SchemaType & { required?: boolean }>;
};

interface NamespaceJson {
  commonTypes?: Record<string, SchemaType>;
  entityTypes: Record<string, unknown>;
  actions: Record<
    string,
    {
      appliesTo?: { context?: SchemaType };
      memberOf?: { id: string; type?: string }[];
    }
  >;
}

export type SchemaJson = Record<string, NamespaceJson>;

export interface SchemaInfo {
  entityTypes: Set<string>;
  actions: Set<string>;
  /** Action entities with their direct parents, for the entity store. */
  actionEntities: CedarEntity[];
  /** Per action: context defaults for every required key the schema declares. */
  contextDefaults: Map<string, Record<string, unknown>>;
}

const qualify = (ns: string, name: string) => (ns ? `${ns}::${name}` : name);

export function schemaInfo(json: SchemaJson): SchemaInfo {
  const entityTypes = new Set<string>();
  const actions = new Set<string>();
  const actionEntities: CedarEntity[] = [];
  const contextDefaults = new Map<string, Record<string, unknown>>();

  for (const [ns, def] of Object.entries(json)) {
    for (const name of Object.keys(def.entityTypes ?? {})) entityTypes.add(qualify(ns, name));
    const actionType = qualify(ns, 'Action');
    const resolve = (t: SchemaType): SchemaType => {
      // Resolved types still name common types by reference; follow them within the namespace.
      const common = def.commonTypes?.[t.type] ?? json['']?.commonTypes?.[t.type];
      return common ? resolve(common) : t;
    };
    const defaultFor = (raw: SchemaType): unknown => {
      const t = resolve(raw);
      switch (t.type) {
        case 'String':
          return '';
        case 'Long':
          return 0;
        case 'Boolean':
          return false;
        case 'Set':
          return [];
        case 'Record': {
          const out: Record<string, unknown> = {};
          for (const [k, a] of Object.entries(t.attributes ?? {})) {
            if (a.required === false) continue;
            const v = defaultFor(a);
            if (v !== undefined) out[k] = v;
          }
          return out;
        }
        default:
          // Entities and extension values have no safe zero: leave them absent, so a policy
          // that reads one errors (and an erroring forbid denies) instead of matching a guess.
          return undefined;
      }
    };
    for (const [name, a] of Object.entries(def.actions ?? {})) {
      actions.add(name);
      actionEntities.push({
        uid: { type: actionType, id: name },
        attrs: {},
        parents: (a.memberOf ?? []).map((m) => ({ type: m.type ?? actionType, id: m.id })),
      });
      const ctx = a.appliesTo?.context;
      const defaults = ctx ? defaultFor(ctx) : undefined;
      if (defaults && typeof defaults === 'object') {
        contextDefaults.set(name, defaults as Record<string, unknown>);
      }
    }
  }
  return { entityTypes, actions, actionEntities, contextDefaults };
}

/** Fills keys missing from `value` with the defaults, recursively through records. */
export function fillDefaults(
  value: Record<string, unknown>,
  defaults: Record<string, unknown>,
): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [k, d] of Object.entries(defaults)) {
    const v = value[k];
    if (v === undefined) {
      out ??= { ...value };
      out[k] = d;
    } else if (
      d &&
      typeof d === 'object' &&
      !Array.isArray(d) &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v)
    ) {
      const filled = fillDefaults(v as Record<string, unknown>, d as Record<string, unknown>);
      if (filled !== v) {
        out ??= { ...value };
        out[k] = filled;
      }
    }
  }
  return out ?? value;
}
