// Policy sources (texts) → a CompiledPolicySet, or every problem located as file:line:col.
// Pure: the caller reads the files; this only talks to the Cedar engine.

import v8 from 'node:v8';
import { createHash } from 'node:crypto';
import { redactAnnotationErrors } from '../inspect/obligations.js';
import { cedar } from './cedar.js';
import { EntityStore, EntityStoreError, parseEntities, type CedarEntity } from './entities.js';
import {
  CompiledPolicySet,
  POLICY_OUTCOMES,
  type PolicyMeta,
  type PolicyOutcome,
  type PolicySetOptions,
} from './policy-set.js';
import { schemaInfo, type SchemaInfo, type SchemaJson } from './schema-info.js';
import { contextKeysRead } from './scope.js';
import { lineCol, locateCedarError, type LocatedError } from './source-location.js';

export interface SourceFile {
  file: string;
  text: string;
}

export interface PolicySources {
  policies: SourceFile[];
  schema?: SourceFile;
  entities?: SourceFile;
}

export type CompileResult =
  | { ok: true; set: CompiledPolicySet; warnings: LocatedError[] }
  | { ok: false; errors: LocatedError[]; warnings: LocatedError[] };

/** sha256 over every source in a fixed order: the version recorded with each decision. */
export function policyVersion(src: PolicySources): string {
  const h = createHash('sha256');
  const files = [
    ...src.policies,
    ...(src.schema ? [src.schema] : []),
    ...(src.entities ? [src.entities] : []),
  ];
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const f of files) h.update(f.file).update('\0').update(f.text).update('\0');
  return `sha256:${h.digest('hex')}`;
}

function findOffset(text: string, needle: string, nth = 0): number | undefined {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) return undefined;
  }
  return at;
}

function located(
  file: string,
  text: string,
  offset: number | undefined,
  message: string,
): LocatedError {
  return offset === undefined ? { file, message } : { file, ...lineCol(text, offset), message };
}

function compileSchema(
  src: SourceFile,
  errors: LocatedError[],
  warnings: LocatedError[],
): SchemaInfo | undefined {
  const r = cedar.schemaToJsonWithResolvedTypes(src.text);
  if (r.type === 'failure') {
    errors.push(...r.errors.map((e) => locateCedarError(src.file, src.text, e)));
    return undefined;
  }
  warnings.push(...r.warnings.map((e) => locateCedarError(src.file, src.text, e)));
  return schemaInfo(r.json as SchemaJson);
}

/**
 * Node 20's V8 aborts the process ("unreachable code" in the deoptimizer, a builtin
 * continuation) somewhere past 6,000 policies compiled in one loop. Compiling with TurboFan
 * inlining off avoids it; it is turned back on for everything else (decisions).
 */
function withoutInlining(fn: () => void): void {
  // Started with inlining off already: leave the process as the operator set it.
  if (process.execArgv.includes('--no-turbo-inlining')) return fn();
  v8.setFlagsFromString('--no-turbo-inlining');
  try {
    fn();
  } finally {
    v8.setFlagsFromString('--turbo-inlining');
  }
}

function compileFile(
  f: SourceFile,
  schemaText: string | undefined,
  policies: Map<string, PolicyMeta>,
  errors: LocatedError[],
  warnings: LocatedError[],
): void {
  const parsed = cedar.checkParsePolicySet({ staticPolicies: f.text });
  if (parsed.type === 'failure') {
    for (const e of parsed.errors) {
      const msg = /includes a template/.test(e.message)
        ? 'policy templates (?principal / ?resource slots) are not supported; write static policies'
        : undefined;
      errors.push(
        msg
          ? located(f.file, f.text, findOffset(f.text, '?'), msg)
          : locateCedarError(f.file, f.text, e),
      );
    }
    return;
  }
  const parts = cedar.policySetTextToParts(f.text);
  if (parts.type === 'failure') {
    errors.push(...parts.errors.map((e) => locateCedarError(f.file, f.text, e)));
    return;
  }
  // Cedar names a file's policies policy0, policy1, … in file order and returns the parts
  // sorted by that id as a string (policy10 before policy2); undo that to get file order.
  const cedarIds = parts.policies.map((_, i) => `policy${i}`).sort();
  const byIndex: string[] = [];
  cedarIds.forEach((cid, k) => (byIndex[Number(cid.slice(6))] = parts.policies[k]!));

  const ourIds: string[] = [];
  // A plain loop, not forEach: node 20's V8 aborted (a deoptimizer bug in the forEach builtin
  // continuation) on files of thousands of policies with the callback form.
  for (let index = 0; index < byIndex.length; index++) compilePolicyText(byIndex[index]!, index);
  function compilePolicyText(text: string, index: number): void {
    const j = cedar.policyToJson(text);
    if (j.type === 'failure') {
      errors.push(...j.errors.map((e) => locateCedarError(f.file, f.text, e)));
      return;
    }
    const annotations = (j.json.annotations ?? {}) as Record<string, string>;
    const id = annotations.id ?? `${f.file}#${index}`;
    ourIds[index] = id;
    const at =
      annotations.id === undefined ? undefined : findOffset(f.text, `@id("${annotations.id}")`);
    const prior = policies.get(id);
    if (prior) {
      const again = prior.file === f.file ? findOffset(f.text, `@id("${id}")`, 1) : at;
      errors.push(
        located(f.file, f.text, again, `duplicate policy id "${id}" (first in ${prior.file})`),
      );
      return;
    }
    let outcome: PolicyOutcome | undefined;
    if (annotations.outcome !== undefined) {
      const at2 = findOffset(f.text, `@outcome("${annotations.outcome}")`);
      if (!POLICY_OUTCOMES.includes(annotations.outcome as PolicyOutcome)) {
        errors.push(
          located(
            f.file,
            f.text,
            at2,
            `@outcome("${annotations.outcome}") on policy "${id}": expected one of ${POLICY_OUTCOMES.join(', ')}`,
          ),
        );
        return;
      }
      if (j.json.effect === 'permit') {
        warnings.push(
          located(
            f.file,
            f.text,
            at2,
            `@outcome on permit policy "${id}" has no effect; it applies to forbid policies`,
          ),
        );
      } else {
        outcome = annotations.outcome as PolicyOutcome;
      }
    }
    for (const message of redactAnnotationErrors(annotations)) {
      errors.push(located(f.file, f.text, at, `policy "${id}": ${message}`));
    }
    if (annotations.redact !== undefined && j.json.effect === 'forbid') {
      warnings.push(
        located(
          f.file,
          f.text,
          at,
          `@redact on forbid policy "${id}" has no effect; it applies to permit policies`,
        ),
      );
    }
    policies.set(id, {
      id,
      file: f.file,
      effect: j.json.effect,
      annotations,
      outcome,
      text,
      json: j.json,
      contextKeys: contextKeysRead(j.json),
    });
  }

  if (schemaText !== undefined) {
    const v = cedar.validate({
      schema: schemaText,
      policies: { staticPolicies: f.text },
      validationSettings: { mode: 'strict' },
    });
    // Cedar names policies by position (policy0…); say the id the author wrote instead.
    const rename = (e: LocatedError): LocatedError => ({
      ...e,
      message: e.message.replace(/policy `policy(\d+)`/g, (m, n: string) =>
        ourIds[Number(n)] ? `policy "${ourIds[Number(n)]}"` : m,
      ),
    });
    if (v.type === 'failure') {
      errors.push(...v.errors.map((e) => locateCedarError(f.file, f.text, e)));
    } else {
      errors.push(
        ...v.validationErrors.map((e) => rename(locateCedarError(f.file, f.text, e.error))),
      );
      warnings.push(
        ...v.validationWarnings.map((e) => rename(locateCedarError(f.file, f.text, e.error))),
      );
    }
  }
}

function compileEntities(
  src: SourceFile,
  schemaText: string | undefined,
  errors: LocatedError[],
): CedarEntity[] | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(src.text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    errors.push(
      located(
        src.file,
        src.text,
        m ? Number(m[1]) : undefined,
        `invalid JSON: ${(e as Error).message}`,
      ),
    );
    return undefined;
  }
  let entities: CedarEntity[];
  try {
    entities = parseEntities(raw);
  } catch (e) {
    errors.push({ file: src.file, message: (e as Error).message });
    return undefined;
  }
  const check = cedar.checkParseEntities({
    entities: entities as never,
    schema: schemaText ?? null,
  });
  if (check.type === 'failure') {
    errors.push(...check.errors.map((e) => ({ file: src.file, message: e.message })));
    return undefined;
  }
  return entities;
}

export function compilePolicySet(
  src: PolicySources,
  options: PolicySetOptions = {},
): CompileResult {
  const errors: LocatedError[] = [];
  const warnings: LocatedError[] = [];
  const schema = src.schema ? compileSchema(src.schema, errors, warnings) : undefined;
  const schemaText = schema ? src.schema?.text : undefined;

  const policies = new Map<string, PolicyMeta>();
  withoutInlining(() => {
    for (const f of src.policies) compileFile(f, schemaText, policies, errors, warnings);
  });
  const entities = src.entities ? compileEntities(src.entities, schemaText, errors) : [];

  if (errors.length > 0 || !entities) return { ok: false, errors, warnings };

  let store: EntityStore;
  try {
    // The schema declares the action hierarchy; entities.json may list actions itself instead.
    const listed = new Set(entities.filter((e) => e.uid.type === 'Action').map((e) => e.uid.id));
    const actions = (schema?.actionEntities ?? []).filter((a) => !listed.has(a.uid.id));
    store = new EntityStore(entities, actions);
  } catch (e) {
    if (!(e instanceof EntityStoreError)) throw e;
    return {
      ok: false,
      errors: [{ file: src.entities?.file ?? 'entities.json', message: e.message }],
      warnings,
    };
  }
  return {
    ok: true,
    set: new CompiledPolicySet(policyVersion(src), policies, store, schema, src, options),
    warnings,
  };
}
