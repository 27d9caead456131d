// What the engine needs from a Cedar schema at run time: which entity types exist, the action
// hierarchy (so `action in Action::"group"` works without shipping the schema per call) and
// each action's context shape (so declared keys can be filled with defaults).

import type { CedarEntity } from './entities.js';

export type SchemaType = {
  type: string;
  name?: string;
  element?: SchemaType;
  attributes?: Record<string, SchemaType & { required?: boolean }>;
};

/** An entity type's declared attributes (common types resolved). */
export type EntityShape = Record<string, SchemaType & { required?: boolean }>;

interface NamespaceJson {
  commonTypes?: Record<string, SchemaType>;
  entityTypes: Record<string, { shape?: SchemaType }>;
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
  /** Per entity type with a declared shape: its attributes, to check what a PEP passes. */
  entityShapes: Map<string, EntityShape>;
}

const qualify = (ns: string, name: string) => (ns ? `${ns}::${name}` : name);

export function schemaInfo(json: SchemaJson): SchemaInfo {
  const entityTypes = new Set<string>();
  const actions = new Set<string>();
  const actionEntities: CedarEntity[] = [];
  const contextDefaults = new Map<string, Record<string, unknown>>();
  const entityShapes = new Map<string, EntityShape>();

  for (const [ns, def] of Object.entries(json)) {
    const actionType = qualify(ns, 'Action');
    const resolve = (t: SchemaType): SchemaType => {
      // Resolved types still name common types by reference; follow them within the namespace.
      const common = def.commonTypes?.[t.type] ?? json['']?.commonTypes?.[t.type];
      return common ? resolve(common) : t;
    };
    for (const [name, e] of Object.entries(def.entityTypes ?? {})) {
      entityTypes.add(qualify(ns, name));
      const shape = e?.shape ? resolve(e.shape) : undefined;
      if (shape?.type === 'Record') entityShapes.set(qualify(ns, name), shape.attributes ?? {});
    }
    const defaultFor = (raw: SchemaType): unknown => {
      const t = resolve(raw);
      switch (t.type) {
        case 'String':
          return '';
        case 'Long':
          return 0;
        // Cedar's resolved schema says Bool; its JSON schema format says Boolean.
        case 'Bool':
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
  return { entityTypes, actions, actionEntities, contextDefaults, entityShapes };
}

/** What a value of schema type `t` looks like in words, for the error message. */
function describe(t: SchemaType): string {
  switch (t.type) {
    case 'Bool':
    case 'Boolean':
      return 'a boolean (Bool)';
    case 'Long':
      return 'an integer (Long)';
    case 'String':
      return 'a string (String)';
    case 'Set':
      return `a set (array)${t.element ? ` of ${describe(t.element)}` : ''}`;
    case 'Record':
      return 'a record (object)';
    case 'Entity':
      return `an entity reference${t.name ? ` to ${t.name}` : ''}`;
    default:
      return `an ${t.type === 'Extension' ? (t.name ?? 'extension') : t.type} value`;
  }
}

/**
 * The first place `value` contradicts schema type `t`, or undefined. Entities and extension
 * values (ipaddr, decimal…) are only checked loosely: Cedar accepts several JSON forms for them.
 */
export function typeProblem(value: unknown, t: SchemaType, path: string): string | undefined {
  const bad = () => `${path} must be ${describe(t)}, got ${JSON.stringify(value)}`;
  switch (t.type) {
    case 'Bool':
    case 'Boolean':
      return typeof value === 'boolean' ? undefined : bad();
    case 'Long':
      return Number.isSafeInteger(value) ? undefined : bad();
    case 'String':
      return typeof value === 'string' ? undefined : bad();
    case 'Set': {
      if (!Array.isArray(value)) return bad();
      if (!t.element) return undefined;
      for (let i = 0; i < value.length; i++) {
        const p = typeProblem(value[i], t.element, `${path}[${i}]`);
        if (p) return p;
      }
      return undefined;
    }
    case 'Record': {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return bad();
      return shapeProblem(value as Record<string, unknown>, t.attributes ?? {}, path, true);
    }
    case 'Entity':
      return value && typeof value === 'object' && !Array.isArray(value) ? undefined : bad();
    default:
      return typeof value === 'string' || (value && typeof value === 'object') ? undefined : bad();
  }
}

/**
 * The first attribute of `attrs` the shape does not declare or types differently, then (when
 * `complete`) the first required one missing, or undefined.
 */
export function shapeProblem(
  attrs: Record<string, unknown>,
  shape: EntityShape,
  path: string,
  complete: boolean,
  skip: (key: string) => boolean = () => false,
): string | undefined {
  for (const [k, v] of Object.entries(attrs)) {
    if (skip(k)) continue;
    const t = shape[k];
    const declared = Object.keys(shape);
    if (!t)
      return `${path}.${k} is not declared in the schema${declared.length ? ` (declared: ${declared.join(', ')})` : ' (no attributes declared)'}`;
    const p = typeProblem(v, t, `${path}.${k}`);
    if (p) return p;
  }
  if (complete)
    for (const [k, t] of Object.entries(shape))
      if (t.required !== false && !Object.hasOwn(attrs, k))
        return `${path}.${k} is missing: the schema requires ${describe(t)}`;
  return undefined;
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
