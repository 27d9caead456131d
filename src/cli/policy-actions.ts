// The actions of `cordon init`, `policy validate|fmt|test` and `decide`, loaded when one of
// them runs (commands.ts defines their options).

import { readFile, writeFile } from 'node:fs/promises';
import type { EngineKind } from '../core/compiled/index.js';
import { Engine } from '../core/engine.js';
import type { PrincipalExplained } from '../core/explain.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { ActionRequest } from '../core/types.js';
import { parseActionRequest } from '../core/request.js';
import { formatLocated } from '../core/source-location.js';
import { loadPolicyDir } from '../policy/load.js';
import { UserError } from './errors.js';
import { junitXml, type CaseOutcome } from './junit.js';

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

const MAX_LISTED_WARNINGS = 20;

/** `decide --fail`: an outcome other than allow is an exit code scripts can branch on. */
const FAIL_EXIT = { allow: 0, deny: 2, require_approval: 3 } as const;

async function compileOrReport(dir: string, engine?: EngineKind) {
  const r = await loadPolicyDir(dir, engine ? { engine } : {});
  for (const w of r.warnings) err(`${formatLocated(w)} (warning)`);
  if (!r.ok) {
    for (const e of r.errors) err(formatLocated(e));
    return undefined;
  }
  return r.set;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function init(
  dir: string,
  o: { force?: boolean; minimal?: boolean },
  _exit: Exit,
): Promise<void> {
  const { scaffold } = await import('../policy/scaffold.js');
  const written = await scaffold(dir, { force: o.force ?? false, minimal: o.minimal ?? false });
  for (const f of written) out(`wrote ${f}`);
  out(`next: npx cordon policy test ${dir}`);
}

export async function validate(
  dir: string,
  o: { engine: EngineKind; json?: boolean },
  exit: Exit,
): Promise<void> {
  if (o.json) {
    const r = await loadPolicyDir(dir, { engine: o.engine });
    const view = r.ok
      ? {
          valid: true,
          errors: [],
          warnings: [
            ...r.warnings,
            ...(await import('../policy/entity-refs.js')).unknownEntityReferences(r.set),
          ],
          policies: r.set.size,
          entities: r.set.store.listed,
          typeChecked: !!r.set.schema,
          fallbacks: r.set.fallbacks,
          shadow: shadowIds(r.set),
          version: r.set.version,
        }
      : { valid: false, errors: r.errors, warnings: r.warnings };
    out(JSON.stringify(view, null, 2));
    return exit(r.ok ? 0 : 1);
  }
  const set = await compileOrReport(dir, o.engine);
  if (!set) return exit(1);
  const { unknownEntityReferences } = await import('../policy/entity-refs.js');
  // A generated set can name thousands of unlisted entities: list a screenful, count the rest.
  const refs = unknownEntityReferences(set);
  for (const w of refs.slice(0, MAX_LISTED_WARNINGS)) err(`${formatLocated(w)} (warning)`);
  if (refs.length > MAX_LISTED_WARNINGS)
    err(
      `… and ${refs.length - MAX_LISTED_WARNINGS} more entity references nothing provides (--json lists them all)`,
    );
  if (set.engine === 'compiled') {
    for (const f of set.fallbacks)
      out(
        `policy "${f.policy}" is evaluated by cedar-wasm: the compiled engine does not accept ${f.reason}`,
      );
    out(`engine compiled: ${set.size - set.fallbacks.length} of ${set.size} policies compiled`);
  } else {
    out('engine wasm: every policy is evaluated by cedar-wasm');
  }
  const typed = set.schema
    ? 'type-checked against schema.cedarschema (strict)'
    : 'parsed only: no schema.cedarschema, so not type-checked';
  out(`valid: ${set.size} policies, ${set.store.listed} entities; ${typed}`);
  const shadow = shadowIds(set);
  if (shadow.length > 0)
    out(`shadow (evaluated and reported, never deciding): ${shadow.join(', ')}`);
  out(`version ${set.version}`);
}

/** The policies annotated @mode("shadow"). */
function shadowIds(set: CompiledPolicySet): string[] {
  return [...set.policies.values()].filter((p) => p.shadow).map((p) => p.id);
}

export async function fmt(dir: string, o: { check?: boolean }, exit: Exit): Promise<void> {
  const { formatPolicyDir } = await import('../policy/format.js');
  const r = await formatPolicyDir(dir, { write: !o.check });
  for (const e of r.errors) err(formatLocated(e));
  for (const f of r.changed) out(o.check ? `would reformat ${f}` : `formatted ${f}`);
  if (r.errors.length > 0 || (o.check && r.changed.length > 0)) return exit(1);
}

export async function test(
  dir: string,
  o: { json?: boolean; junit?: string },
  exit: Exit,
): Promise<void> {
  // With --json, stdout carries only the JSON: compile errors go to stderr either way.
  const say = o.json ? () => {} : out;
  const results: CaseOutcome[] = [];
  const set = await compileOrReport(dir);
  if (!set) {
    results.push({
      file: '(policies)',
      name: 'the policies compile',
      passed: false,
      problems: ['they do not: see the errors above'],
    });
  } else {
    const { readTestFiles, runCase } = await import('../policy/test-runner.js');
    const engine = new Engine({ policies: { current: () => set } });
    const { cases, errors } = await readTestFiles(dir);
    for (const e of errors) {
      results.push({ file: e.file, name: '(file)', passed: false, problems: [e.message] });
      say(`✗ ${e.file}: ${e.message}`);
    }
    for (const { file, c } of cases) {
      const r = await runCase(engine, file, c);
      const problems = [...r.problems];
      for (const reason of r.decision?.reasons ?? [])
        problems.push(
          `reason: ${reason.policy} (${reason.effect}${reason.principal ? `, ${reason.principal}` : ''})${reason.message ? `: ${reason.message}` : ''}`,
        );
      for (const e of r.decision?.errors ?? [])
        problems.push(`error in ${e.policy} (${e.principal}): ${e.message}`);
      results.push({ file, name: r.name, passed: r.passed, problems: r.passed ? [] : problems });
      say(`${r.passed ? '✓' : '✗'} ${file}: ${r.name}`);
      if (!r.passed) for (const p of problems) say(`    ${p}`);
    }
  }
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed;
  if (o.junit) await writeFile(o.junit, junitXml(dir, results));
  if (o.json) out(JSON.stringify({ passed, failed, cases: results }, null, 2));
  else out(`${passed} passed, ${failed} failed`);
  if (failed > 0) return exit(1);
}

/** The request of `decide` and `policy explain`, from --request FILE or stdin. */
async function readRequest(file: string | undefined): Promise<ActionRequest> {
  let text: string;
  try {
    text = file ? await readFile(file, 'utf8') : await readStdin();
  } catch (e) {
    throw new UserError(`cannot read the request ${file}: ${(e as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new UserError(`request is not JSON: ${(e as Error).message}`);
  }
  const request = parseActionRequest(body);
  // Local and offline, like a policy test: the request's parents are believed.
  return { pep: 'cli', ...request, trustedFor: [request.resource.type] };
}

export async function decide(
  o: { policies: string; request?: string; engine: EngineKind; fail?: boolean },
  exit: Exit,
): Promise<void> {
  const request = await readRequest(o.request);
  const set = await compileOrReport(o.policies, o.engine);
  if (!set) return exit(1);
  const engine = new Engine({ policies: { current: () => set } });
  const decision = await engine.decide(request);
  out(JSON.stringify(decision, null, 2));
  if (o.fail) exit(FAIL_EXIT[decision.decision]);
}

export async function explain(
  dir: string,
  o: { request?: string; engine: EngineKind; json?: boolean },
  exit: Exit,
): Promise<void> {
  const request = await readRequest(o.request);
  const set = await compileOrReport(dir, o.engine);
  if (!set) return exit(1);
  const { explainEvaluation } = await import('../core/explain.js');
  const engine = new Engine({ policies: { current: () => set } });
  const evaluations: PrincipalExplained[] = [];
  const { decision } = await engine.trace(request, undefined, {
    observe: (input) => evaluations.push(explainEvaluation(input)),
  });
  if (o.json) {
    out(JSON.stringify({ decision, evaluations }, null, 2));
    return;
  }
  const { explainText } = await import('./explain-view.js');
  out(explainText(decision, evaluations));
}
