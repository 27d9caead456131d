// `policy validate` warnings for entity references that nothing provides: a literal such as
// Agent::"cursr-agent" that is neither listed in entities.json nor of a type the enforcement
// points describe themselves at request time. Cedar accepts such a policy (the type is
// declared), and it silently never matches.

import type { CompiledPolicySet } from '../core/policy-set.js';
import { lineCol, type LocatedError } from '../core/source-location.js';

/** Types whose entities the PEPs build per request (files, hosts, tools, models), and actions. */
const SYNTHESIZED = new Set([
  'Action',
  'FilePath',
  'NetworkDestination',
  'Tool',
  'McpServer',
  'Model',
  'Audience', // token exchange: the audience asked for
]);
/** Entities Cordon itself puts in requests (the local admin's role: core/stages/identity.ts). */
const BUILT_IN = new Set(['Role::"cordon-admin"']);

function refsIn(node: unknown, out: { type: string; id: string }[]): void {
  if (Array.isArray(node)) {
    for (const n of node) refsIn(n, out);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  const e = o.__entity as { type?: unknown; id?: unknown } | undefined;
  if (e && typeof e.type === 'string' && typeof e.id === 'string')
    out.push({ type: e.type, id: e.id });
  for (const v of Object.values(o)) refsIn(v, out);
}

export function unknownEntityReferences(set: CompiledPolicySet): LocatedError[] {
  const warnings: LocatedError[] = [];
  for (const p of set.policies.values()) {
    const refs: { type: string; id: string }[] = [];
    const { principal, resource, conditions } = p.json as unknown as Record<string, unknown>;
    // Scope constraints name an entity as {type, id} under "entity" / "entities".
    for (const scope of [principal, resource] as Record<string, unknown>[]) {
      for (const x of [scope?.entity, ...((scope?.entities as unknown[]) ?? [])]) {
        const r = x as { type?: unknown; id?: unknown } | undefined;
        if (r && typeof r.type === 'string' && typeof r.id === 'string')
          refs.push({ type: r.type, id: r.id });
      }
    }
    refsIn(conditions, refs);
    const seen = new Set<string>();
    for (const r of refs) {
      const key = `${r.type}::${JSON.stringify(r.id)}`;
      if (
        seen.has(key) ||
        BUILT_IN.has(key) ||
        SYNTHESIZED.has(r.type) ||
        set.store.has(r.type, r.id)
      )
        continue;
      seen.add(key);
      const src = set.sources.policies.find((f) => f.file === p.file);
      const at = src?.text.indexOf(`${r.type}::${JSON.stringify(r.id)}`) ?? -1;
      warnings.push({
        file: p.file,
        ...(src && at >= 0 ? lineCol(src.text, at) : {}),
        message: `policy "${p.id}" names ${key}, which is not in entities.json and not a type the enforcement points describe: a typo never matches`,
      });
    }
  }
  return warnings;
}
