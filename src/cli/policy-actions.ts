// The actions of `cordon init`, `policy validate|fmt|test` and `decide`, loaded when one of
// them runs (commands.ts defines their options).

import { readFile } from 'node:fs/promises';
import type { EngineKind } from '../core/compiled/index.js';
import { Engine } from '../core/engine.js';
import { parseActionRequest } from '../core/request.js';
import { formatLocated } from '../core/source-location.js';
import { loadPolicyDir } from '../policy/load.js';
import { UserError } from './errors.js';

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

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

export async function init(dir: string, o: { force?: boolean }, _exit: Exit): Promise<void> {
  const { scaffold } = await import('../policy/scaffold.js');
  const written = await scaffold(dir, { force: o.force ?? false });
  for (const f of written) out(`wrote ${f}`);
  out(`next: npx cordon policy test ${dir}`);
}

export async function validate(dir: string, o: { engine: EngineKind }, exit: Exit): Promise<void> {
  const set = await compileOrReport(dir, o.engine);
  if (!set) return exit(1);
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
  out(`version ${set.version}`);
}

export async function fmt(dir: string, o: { check?: boolean }, exit: Exit): Promise<void> {
  const { formatPolicyDir } = await import('../policy/format.js');
  const r = await formatPolicyDir(dir, { write: !o.check });
  for (const e of r.errors) err(formatLocated(e));
  for (const f of r.changed) out(o.check ? `would reformat ${f}` : `formatted ${f}`);
  if (r.errors.length > 0 || (o.check && r.changed.length > 0)) return exit(1);
}

export async function test(dir: string, _o: object, exit: Exit): Promise<void> {
  const set = await compileOrReport(dir);
  if (!set) {
    out('0 passed, 1 failed');
    return exit(1);
  }
  const { readTestFiles, runCase } = await import('../policy/test-runner.js');
  const engine = new Engine({ policies: { current: () => set } });
  const { cases, errors } = await readTestFiles(dir);
  let passed = 0;
  let failed = errors.length;
  for (const e of errors) out(`✗ ${e.file}: ${e.message}`);
  for (const { file, c } of cases) {
    const r = await runCase(engine, file, c);
    if (r.passed) {
      passed++;
      out(`✓ ${file}: ${r.name}`);
      continue;
    }
    failed++;
    out(`✗ ${file}: ${r.name}`);
    for (const p of r.problems) out(`    ${p}`);
    for (const reason of r.decision?.reasons ?? []) {
      out(
        `    reason: ${reason.policy} (${reason.effect}${reason.principal ? `, ${reason.principal}` : ''})${reason.message ? `: ${reason.message}` : ''}`,
      );
    }
    for (const e of r.decision?.errors ?? [])
      out(`    error in ${e.policy} (${e.principal}): ${e.message}`);
  }
  out(`${passed} passed, ${failed} failed`);
  if (failed > 0) return exit(1);
}

export async function decide(
  o: { policies: string; request?: string; engine: EngineKind },
  exit: Exit,
): Promise<void> {
  let text: string;
  try {
    text = o.request ? await readFile(o.request, 'utf8') : await readStdin();
  } catch (e) {
    throw new UserError(`cannot read the request ${o.request}: ${(e as Error).message}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new UserError(`request is not JSON: ${(e as Error).message}`);
  }
  const request = parseActionRequest(body);
  const set = await compileOrReport(o.policies, o.engine);
  if (!set) return exit(1);
  const engine = new Engine({ policies: { current: () => set } });
  // Local and offline, like a policy test: the request's parents are believed.
  const trusted = { trustedFor: [request.resource.type] };
  out(JSON.stringify(await engine.decide({ pep: 'cli', ...request, ...trusted }), null, 2));
}
