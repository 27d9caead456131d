// Policy sources (texts) → a CompiledPolicySet, or every problem located as file:line:col.
// Pure: the caller reads the files; this only talks to the Cedar engine. Two steps: the
// analysis (everything cedar-wasm does: parse, convert to JSON, validate the whole set in one
// call, check the entities) gives plain data that can be cached by policy version; assembling
// turns that data into a CompiledPolicySet without calling cedar-wasm.

import { processFlagsOwned } from './process-flags.js';
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
import { schemaInfo, type SchemaJson } from './schema-info.js';
import { contextKeysRead } from './scope.js';
import {
  lineCol,
  locateCedarError,
  type CedarDetailedError,
  type LocatedError,
} from './source-location.js';

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

/** `@mode`: enforce (the default) or shadow (evaluated and reported, never deciding). */
const POLICY_MODES = ['enforce', 'shadow'];

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
): SchemaJson | undefined {
  const r = cedar.schemaToJsonWithResolvedTypes(src.text);
  if (r.type === 'failure') {
    errors.push(...r.errors.map((e) => locateCedarError(src.file, src.text, e)));
    return undefined;
  }
  warnings.push(...r.warnings.map((e) => locateCedarError(src.file, src.text, e)));
  return r.json as SchemaJson;
}

/**
 * Node 20's V8 aborts the process ("unreachable code" in the deoptimizer, a builtin
 * continuation) somewhere past 6,000 policies compiled in one loop. Compiling with TurboFan
 * inlining off avoids it; it is turned back on for everything else (decisions). The flag is
 * process-wide, so it is switched only in a process Cordon owns (the `cordon` command); in a
 * library host, policy/isolated-compile.ts analyzes large sets in a child process instead
 * (docs/architecture.md, "Process-wide V8 flags").
 */
function withoutInlining(fn: () => void): void {
  // Started with inlining off already: leave the process as the operator set it.
  if (!processFlagsOwned() || process.execArgv.includes('--no-turbo-inlining')) return fn();
  v8.setFlagsFromString('--no-turbo-inlining');
  try {
    fn();
  } finally {
    v8.setFlagsFromString('--turbo-inlining');
  }
}

/** One policy as the set-wide validation sees it: where its text is in its file. */
interface PolicyPart {
  file: SourceFile;
  /** The policy's id, when it got one (a duplicate has none). */
  id: string | undefined;
  text: string;
  offset: number;
}

function compileFile(
  f: SourceFile,
  policies: Map<string, PolicyMeta>,
  parts: PolicyPart[],
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
  const split = cedar.policySetTextToParts(f.text);
  if (split.type === 'failure') {
    errors.push(...split.errors.map((e) => locateCedarError(f.file, f.text, e)));
    return;
  }
  // Cedar names a file's policies policy0, policy1, … in file order and returns the parts
  // sorted by that id as a string (policy10 before policy2); undo that to get file order.
  const cedarIds = split.policies.map((_, i) => `policy${i}`).sort();
  const byIndex: string[] = [];
  cedarIds.forEach((cid, k) => (byIndex[Number(cid.slice(6))] = split.policies[k]!));

  // Each part is the policy's exact text in the file: its offset locates validation errors.
  let cursor = 0;
  const first = parts.length;
  for (const text of byIndex) {
    const at = f.text.indexOf(text, cursor);
    parts.push({ file: f, id: undefined, text, offset: Math.max(at, 0) });
    if (at >= 0) cursor = at + text.length;
  }
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
    if (annotations.mode !== undefined && !POLICY_MODES.includes(annotations.mode)) {
      errors.push(
        located(
          f.file,
          f.text,
          findOffset(f.text, `@mode("${annotations.mode}")`),
          `@mode("${annotations.mode}") on policy "${id}": expected one of ${POLICY_MODES.join(', ')}`,
        ),
      );
      return;
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
    parts[first + index]!.id = id;
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
}

/**
 * Strict validation of every policy against the schema in one call (the schema is parsed
 * once, not once per file). Cedar locates an error within the policy's own text; the part's
 * offset turns that into the file's line and column.
 */
function validateSet(
  schema: SourceFile,
  parts: PolicyPart[],
  errors: LocatedError[],
  warnings: LocatedError[],
): void {
  if (parts.length === 0) return;
  const staticPolicies: Record<string, string> = {};
  parts.forEach((p, i) => (staticPolicies[`p${i}`] = p.text));
  const v = cedar.validate({
    schema: schema.text,
    policies: { staticPolicies },
    validationSettings: { mode: 'strict' },
  });
  if (v.type === 'failure') {
    errors.push(...v.errors.map((e) => locateCedarError(schema.file, schema.text, e)));
    return;
  }
  const place = (policyId: string, e: CedarDetailedError): [number, LocatedError] => {
    const n = /^p(\d+)$/.exec(policyId) ? Number(policyId.slice(1)) : -1;
    const part = parts[n];
    if (!part) return [Number.MAX_SAFE_INTEGER, { file: schema.file, message: e.message }];
    // Cedar names policies by the key given to it; say the id the author wrote instead.
    const message = e.message.replace(/policy `p(\d+)`/g, (m, k: string) => {
      const id = parts[Number(k)]?.id;
      return id === undefined ? m : `policy "${id}"`;
    });
    const shifted = {
      ...e,
      message,
      sourceLocations: (e.sourceLocations ?? []).map((l) => ({
        ...l,
        start: l.start + part.offset,
        end: l.end + part.offset,
      })),
    };
    return [n, locateCedarError(part.file.file, part.file.text, shifted)];
  };
  // In file order, as the author reads them.
  const ordered = (list: { policyId: string; error: CedarDetailedError }[]) =>
    list
      .map((x) => place(x.policyId, x.error))
      .sort((a, b) => a[0] - b[0] || (a[1].line ?? 0) - (b[1].line ?? 0))
      .map((x) => x[1]);
  errors.push(...ordered(v.validationErrors));
  warnings.push(...ordered(v.validationWarnings));
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

/** A policy as the analysis leaves it: plain data (its context keys are derived again). */
export type AnalyzedPolicy = Omit<PolicyMeta, 'contextKeys'>;

/** What cedar-wasm says about a set of sources, as plain JSON data. */
export interface PolicyAnalysis {
  policies: AnalyzedPolicy[];
  /** The schema in Cedar's JSON form (types resolved), when there is one. */
  schema?: SchemaJson;
  entities: CedarEntity[];
  warnings: LocatedError[];
}

export type AnalysisResult =
  | { ok: true; analysis: PolicyAnalysis }
  | { ok: false; errors: LocatedError[]; warnings: LocatedError[] };

/** Everything cedar-wasm checks: parsing, annotations, strict validation, entities. */
export function analyzePolicySources(src: PolicySources): AnalysisResult {
  const errors: LocatedError[] = [];
  const warnings: LocatedError[] = [];
  const schema = src.schema ? compileSchema(src.schema, errors, warnings) : undefined;
  const schemaText = schema ? src.schema?.text : undefined;

  const policies = new Map<string, PolicyMeta>();
  const parts: PolicyPart[] = [];
  withoutInlining(() => {
    for (const f of src.policies) compileFile(f, policies, parts, errors, warnings);
  });
  if (schemaText !== undefined && src.schema) validateSet(src.schema, parts, errors, warnings);
  const entities = src.entities ? compileEntities(src.entities, schemaText, errors) : [];

  if (errors.length > 0 || !entities) return { ok: false, errors, warnings };
  const analyzed = [...policies.values()].map(({ contextKeys: _, ...p }) => p);
  return {
    ok: true,
    analysis: { policies: analyzed, ...(schema ? { schema } : {}), entities, warnings },
  };
}

/** The policy set from its sources and their analysis; calls no cedar-wasm API. */
export function assemblePolicySet(
  src: PolicySources,
  analysis: PolicyAnalysis,
  options: PolicySetOptions = {},
): CompileResult {
  const { entities, warnings } = analysis;
  const schema = analysis.schema ? schemaInfo(analysis.schema) : undefined;
  const policies = new Map<string, PolicyMeta>();
  for (const p of analysis.policies) {
    const meta: PolicyMeta = { ...p, contextKeys: contextKeysRead(p.json) };
    // Derived here, not in the (cached) analysis, so a cache from before it cannot enforce one.
    if (p.annotations.mode === 'shadow') meta.shadow = true;
    policies.set(p.id, meta);
  }
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

export function compilePolicySet(
  src: PolicySources,
  options: PolicySetOptions = {},
): CompileResult {
  const r = analyzePolicySources(src);
  return r.ok ? assemblePolicySet(src, r.analysis, options) : r;
}
