// The entity store: entities.json indexed once, with each entity's transitive ancestors
// precomputed, so a decision ships Cedar a slice of two or three entities instead of the store.

import type { EntityRef, IgnoredField, ResourceRef } from './types.js';

const LISTED = 'entities.json lists this entity: its attributes and parents apply';
const DERIVED = (type: string) => `derived from the ${type} id, which wins`;
const UNTRUSTED = (type: string) =>
  `set membership comes from entities.json or from an enforcement point trusted for ${type}; ` +
  'this caller is not';

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Cedar's entity JSON form, as read from entities.json. */
export interface CedarEntity {
  uid: EntityRef;
  attrs: Record<string, unknown>;
  parents: EntityRef[];
  tags?: Record<string, unknown>;
}

export const entityKey = (type: string, id: string): string => `${type}::${JSON.stringify(id)}`;

export class EntityStoreError extends Error {}

/** Accepts both `{type,id}` and `{__entity:{type,id}}` uid forms. */
export function toRef(value: unknown, where: string): EntityRef {
  const v =
    value && typeof value === 'object' && '__entity' in value
      ? (value as { __entity: unknown }).__entity
      : value;
  if (
    !v ||
    typeof v !== 'object' ||
    typeof (v as EntityRef).type !== 'string' ||
    typeof (v as EntityRef).id !== 'string'
  ) {
    throw new EntityStoreError(`${where}: expected an entity reference {"type": …, "id": …}`);
  }
  return { type: (v as EntityRef).type, id: (v as EntityRef).id };
}

export function parseEntities(raw: unknown): CedarEntity[] {
  if (!Array.isArray(raw)) throw new EntityStoreError('expected a JSON array of entities');
  return raw.map((e, i) => {
    if (!e || typeof e !== 'object')
      throw new EntityStoreError(`entity [${i}]: expected an object`);
    const o = e as Record<string, unknown>;
    const uid = toRef(o.uid, `entity [${i}] uid`);
    const parents = o.parents ?? [];
    if (!Array.isArray(parents))
      throw new EntityStoreError(`entity [${i}] parents: expected an array`);
    const attrs = o.attrs ?? {};
    if (typeof attrs !== 'object' || Array.isArray(attrs)) {
      throw new EntityStoreError(`entity [${i}] attrs: expected an object`);
    }
    const entity: CedarEntity = {
      uid,
      attrs: attrs as Record<string, unknown>,
      parents: parents.map((p, j) => toRef(p, `entity [${i}] parents[${j}]`)),
    };
    if (o.tags !== undefined) entity.tags = o.tags as Record<string, unknown>;
    return entity;
  });
}

/** Finds `__entity` references inside attribute values (one level of dereference is sliced in). */
function referencedEntities(value: unknown, out: EntityRef[]): void {
  if (Array.isArray(value)) {
    for (const v of value) referencedEntities(v, out);
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('__entity' in o) {
      const r = o.__entity as EntityRef;
      if (r && typeof r.type === 'string' && typeof r.id === 'string') out.push(r);
      return;
    }
    if ('__extn' in o) return;
    for (const v of Object.values(o)) referencedEntities(v, out);
  }
}

/** An entity as it goes to Cedar: parents replaced by the full ancestor closure. */
export interface SlicedEntity {
  uid: EntityRef;
  attrs: Record<string, unknown>;
  parents: EntityRef[];
  tags?: Record<string, unknown>;
}

interface Indexed {
  sliced: SlicedEntity;
  refs: EntityRef[];
}

export class EntityStore {
  private readonly byKey = new Map<string, Indexed>();
  /** type → id → entity: every decision looks entities up, and this builds no key string. */
  private readonly byType = new Map<string, Map<string, Indexed>>();
  /** How many entities entities.json listed (the store also holds the schema's actions). */
  readonly listed: number;

  /** `extra` adds entities not in entities.json (the action hierarchy from the schema). */
  constructor(entities: CedarEntity[], extra: CedarEntity[] = []) {
    this.listed = entities.length;
    const raw = new Map<string, CedarEntity>();
    for (const e of [...entities, ...extra]) {
      const k = entityKey(e.uid.type, e.uid.id);
      if (raw.has(k)) throw new EntityStoreError(`duplicate entity ${e.uid.type}::"${e.uid.id}"`);
      raw.set(k, e);
    }
    const closures = new Map<string, EntityRef[]>();
    const closure = (k: string, stack: Set<string>): EntityRef[] => {
      const done = closures.get(k);
      if (done) return done;
      const seen = new Map<string, EntityRef>();
      stack.add(k);
      for (const p of raw.get(k)?.parents ?? []) {
        const pk = entityKey(p.type, p.id);
        seen.set(pk, p);
        if (stack.has(pk)) continue; // a cycle still yields a finite closure
        for (const a of closure(pk, stack)) seen.set(entityKey(a.type, a.id), a);
      }
      stack.delete(k);
      const list = [...seen.values()];
      closures.set(k, list);
      return list;
    };
    for (const [k, e] of raw) {
      const sliced: SlicedEntity = { uid: e.uid, attrs: e.attrs, parents: closure(k, new Set()) };
      if (e.tags) sliced.tags = e.tags;
      const refs: EntityRef[] = [];
      referencedEntities(e.attrs, refs);
      const indexed = { sliced, refs };
      this.byKey.set(k, indexed);
      let ids = this.byType.get(e.uid.type);
      if (!ids) this.byType.set(e.uid.type, (ids = new Map()));
      ids.set(e.uid.id, indexed);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  get(type: string, id: string): SlicedEntity | undefined {
    return this.byType.get(type)?.get(id)?.sliced;
  }

  /** Whether any entity of `type` is listed (no list built: asked per tool result). */
  hasType(type: string): boolean {
    return (this.byType.get(type)?.size ?? 0) > 0;
  }

  /** Every listed entity of a type. */
  ofType(type: string): EntityRef[] {
    return [...(this.byType.get(type)?.values() ?? [])].map((e) => e.sliced.uid);
  }

  has(type: string, id: string): boolean {
    return this.byType.get(type)?.has(id) ?? false;
  }

  /** Transitive ancestors of a listed entity, or of an unlisted one with the given parents. */
  ancestorsOf(parents: EntityRef[]): EntityRef[] {
    const seen = new Map<string, EntityRef>();
    for (const p of parents) {
      seen.set(entityKey(p.type, p.id), p);
      for (const a of this.get(p.type, p.id)?.parents ?? []) seen.set(entityKey(a.type, a.id), a);
    }
    return [...seen.values()];
  }

  /**
   * The resource as Cedar sees it, and what of the caller's description was not believed.
   * Attributes derived from the id (a file's path, a destination's host and port) win over
   * everything. Listed entities are authoritative for the rest: their attrs win over the
   * caller's and their parents are the store's. An unlisted one keeps the caller's other
   * attrs, but its parents (set membership) only when the caller is trusted for its type.
   */
  resolveResource(
    ref: ResourceRef,
    derived: Record<string, unknown>,
    parentsTrusted: boolean,
  ): { entity: SlicedEntity; ignored: IgnoredField[] } {
    const ignored: IgnoredField[] = [];
    const listed = this.get(ref.type, ref.id);
    const given = ref.attrs ?? {};
    for (const k of Object.keys(given)) {
      if (Object.hasOwn(derived, k)) {
        if (!sameJson(given[k], derived[k]))
          ignored.push({ field: `resource.attrs.${k}`, reason: DERIVED(ref.type) });
      } else if (listed && Object.hasOwn(listed.attrs, k) && !sameJson(given[k], listed.attrs[k]))
        ignored.push({ field: `resource.attrs.${k}`, reason: LISTED });
    }
    const parents = ref.parents ?? [];
    if (parents.length > 0 && (listed || !parentsTrusted))
      ignored.push({ field: 'resource.parents', reason: listed ? LISTED : UNTRUSTED(ref.type) });
    if (listed) {
      if (!ref.attrs && Object.keys(derived).length === 0) return { entity: listed, ignored };
      const attrs = { ...ref.attrs, ...listed.attrs, ...derived };
      return { entity: { ...listed, attrs }, ignored };
    }
    const entity = {
      uid: { type: ref.type, id: ref.id },
      attrs: { ...ref.attrs, ...derived },
      parents: parentsTrusted ? this.ancestorsOf(parents) : [],
    };
    return { entity, ignored };
  }

  /** The listed entities that the given entities' attributes point to. */
  referencedBy(entities: SlicedEntity[]): SlicedEntity[] {
    const out: SlicedEntity[] = [];
    let have: Set<string> | undefined;
    for (const e of entities) {
      const listed = this.byType.get(e.uid.type)?.get(e.uid.id);
      // A listed entity with no references (the common case) costs one lookup.
      if (listed?.sliced === e && listed.refs.length === 0) continue;
      have ??= new Set(entities.map((x) => entityKey(x.uid.type, x.uid.id)));
      const refs = listed?.refs;
      if (!refs) {
        const found: EntityRef[] = [];
        referencedEntities(e.attrs, found);
        if (found.length === 0) continue;
        this.pushRefs(found, have, out);
      } else if (refs.length > 0) {
        this.pushRefs(refs, have, out);
      }
    }
    return out;
  }

  private pushRefs(refs: EntityRef[], have: Set<string>, out: SlicedEntity[]): void {
    for (const r of refs) {
      const k = entityKey(r.type, r.id);
      if (have.has(k)) continue;
      const hit = this.get(r.type, r.id);
      if (hit) {
        have.add(k);
        out.push(hit);
      }
    }
  }
}
