// The console's policy playground (docs/api.md "Console API", Policies): the serving set with its
// sources, and validate / test / what-if of an edited copy sent by the browser. The copy is
// compiled in memory only: nothing is written, nothing serves, so every route here is the Cedar
// decision `editPolicy` (trying edits shows what the policies are and what they would do).
// Committing is not offered: a change goes through the policy repository, then a reload.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  assemblePolicySet,
  policyVersion,
  type CompileResult,
  type PolicySources,
  type SourceFile,
} from '../../../core/compile.js';
import { analyzeInChild } from '../../../policy/isolated-compile.js';
import { Engine } from '../../../core/engine.js';
import type { CompiledPolicySet } from '../../../core/policy-set.js';
import type { LocatedError } from '../../../core/source-location.js';
import { whatIf, whatIfJson } from '../../../audit/replay.js';
import { ENTITIES_FILE, SCHEMA_FILE } from '../../../policy/load.js';
import type { PolicyTestCase } from '../../../policy/test-runner.js';
import { controlPlane } from '../control.js';
import { guarded, parsed, sinceOf, type ConsoleContext } from './common.js';
import { locate } from './policy-source.js';

const MAX_FILES = 500;

const fileName = z
  .string()
  .min(1)
  .max(300)
  .refine(
    (f) =>
      !f.startsWith('/') &&
      !f.includes('\\') &&
      !f.includes('\0') &&
      !f.split('/').some((seg) => seg === '..' || seg === '.' || seg === ''),
    'a file name is a relative path without "..", "." or backslashes',
  );

const filesBody = {
  files: z
    .array(z.strictObject({ file: fileName, text: z.string() }))
    .min(1)
    .max(MAX_FILES)
    .refine((fs) => new Set(fs.map((f) => f.file)).size === fs.length, 'file names repeat'),
};
const editBody = z.strictObject(filesBody);
const whatIfBody = z.strictObject({
  ...filesBody,
  since: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(100_000).default(10_000),
});

interface Edited {
  sources: PolicySources;
  tests: SourceFile[];
}

/** Sorts the sent files into a policy set's parts; a name that is none of them is an error. */
function classify(files: SourceFile[]): Edited | string {
  const sources: PolicySources = { policies: [] };
  const tests: SourceFile[] = [];
  for (const f of files) {
    if (f.file === SCHEMA_FILE) sources.schema = f;
    else if (f.file === ENTITIES_FILE) sources.entities = f;
    else if (/^tests\/[^/]+\.ya?ml$/.test(f.file)) tests.push(f);
    else if (f.file.endsWith('.cedar') && !f.file.startsWith('tests/')) sources.policies.push(f);
    else
      return `${f.file}: not part of a policy set (*.cedar, ${SCHEMA_FILE}, ${ENTITIES_FILE}, tests/*.yaml)`;
  }
  sources.policies.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { sources, tests };
}

export function located(e: LocatedError) {
  const line = e.line ?? 1;
  const column = e.col ?? 1;
  return {
    file: e.file,
    line,
    column,
    message: e.message,
    location: `${e.file}:${line}:${column}`,
  };
}

/** The test files of a policy directory, as text (none when it has no tests/). */
async function testFiles(dir: string | undefined): Promise<SourceFile[]> {
  if (!dir) return [];
  let names: string[];
  try {
    names = (await readdir(join(dir, 'tests'))).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch {
    return [];
  }
  return Promise.all(
    names.map(async (n) => ({
      file: `tests/${n}`,
      text: await readFile(join(dir, 'tests', n), 'utf8'),
    })),
  );
}

/** Compilations running at once; more wait (each is a child process and a second or more). */
const MAX_COMPILES = 2;

/**
 * Compiles in a child process: cedar-wasm's analysis of a large set takes seconds of CPU, which
 * in this process would stall every decision meanwhile. Only the assembly happens here.
 */
function compileAside(
  serving: () => CompiledPolicySet,
): (src: PolicySources) => Promise<CompileResult> {
  let running = 0;
  const queue: (() => void)[] = [];
  // Validate, test and what-if of one edit compile it once; the unedited set is the serving one.
  const recent = new Map<string, Promise<CompileResult>>();
  const cached = (src: PolicySources) => {
    const version = policyVersion(src);
    const set = serving();
    if (version === set.version)
      return Promise.resolve<CompileResult>({ ok: true, set, warnings: [] });
    let hit = recent.get(version);
    if (!hit) {
      hit = run(src);
      recent.set(version, hit);
      if (recent.size > 8) recent.delete(recent.keys().next().value!);
    }
    return hit;
  };
  const run = async (src: PolicySources): Promise<CompileResult> => {
    if (running >= MAX_COMPILES) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      const r = await analyzeInChild(src);
      return r.ok ? assemblePolicySet(src, r.analysis) : r;
    } finally {
      running--;
      queue.shift()?.();
    }
  };
  return cached;
}

export function registerPolicyRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { decisions } = c;
  const edit = guarded(decisions, 'editPolicy', controlPlane('policies'));

  const compile = compileAside(() => decisions.engine.policies);
  /** The body's files sorted and compiled, or what is wrong with their names. */
  const compileBody = async (files: SourceFile[]) => {
    const edited = classify(files);
    if (typeof edited === 'string') return { error: edited } as const;
    return { edited, result: await compile(edited.sources) } as const;
  };

  app.get('/v1/console/policies', edit, async () => {
    const set = decisions.engine.policies;
    const src = set.sources;
    const reloadError = c.reloadError?.();
    return {
      version: set.version,
      size: set.size,
      files: [
        ...src.policies,
        ...(src.schema ? [src.schema] : []),
        ...(src.entities ? [src.entities] : []),
        ...(await testFiles(c.policyDir?.())),
      ],
      policies: [...set.policies.values()].map((m) => {
        const at = locate(set, m);
        return {
          id: m.id,
          file: m.file,
          line: at.line,
          effect: m.effect,
          annotations: m.annotations,
          shadow: m.shadow === true,
        };
      }),
      ...(reloadError ? { reloadError } : {}),
      editable: false,
    };
  });

  app.post('/v1/console/policies/validate', edit, async (req, reply) => {
    const body = parsed(editBody, req.body, reply);
    if (!body) return;
    const r = await compileBody(body.files);
    if ('error' in r) return reply.code(400).send({ error: r.error });
    const warnings = r.result.warnings.map(located);
    if (!r.result.ok) return { ok: false, errors: r.result.errors.map(located), warnings };
    return { ok: true, version: r.result.set.version, errors: [], warnings };
  });

  app.post('/v1/console/policies/test', edit, async (req, reply) => {
    const body = parsed(editBody, req.body, reply);
    if (!body) return;
    const r = await compileBody(body.files);
    if ('error' in r) return reply.code(400).send({ error: r.error });
    if (!r.result.ok)
      return { ok: false, passed: 0, failed: 0, results: [], errors: r.result.errors.map(located) };
    // Loaded on the first test run, not at start: the runner brings the YAML parser.
    const { parseTestFile, runCase } = await import('../../../policy/test-runner.js');
    const set = r.result.set;
    const engine = new Engine({ policies: { current: () => set } });
    const errors: ReturnType<typeof located>[] = [];
    const cases: { file: string; c: PolicyTestCase }[] = [];
    for (const f of r.edited.tests) {
      const t = parseTestFile(f.file, f.text);
      // A YAML error's file carries its position already (tests/x.yaml:3:7).
      if (t.error) {
        const m = /^(.*?):(\d+):(\d+)$/.exec(t.error.file);
        errors.push(
          located(
            m
              ? { file: m[1]!, line: Number(m[2]), col: Number(m[3]), message: t.error.message }
              : t.error,
          ),
        );
      }
      cases.push(...t.cases);
    }
    const results = [];
    for (const { file, c: tc } of cases) {
      const res = await runCase(engine, file, tc);
      results.push({
        file: res.file,
        name: res.name,
        passed: res.passed,
        expected: res.expected,
        decision: res.decision?.decision ?? null,
        problems: res.problems,
      });
    }
    const failed = results.filter((x) => !x.passed).length;
    return {
      ok: failed === 0 && errors.length === 0,
      passed: results.length - failed,
      failed,
      results,
      errors,
    };
  });

  const audit = decisions.audit;
  if (audit)
    app.post('/v1/console/policies/whatif', edit, async (req, reply) => {
      const body = parsed(whatIfBody, req.body, reply);
      if (!body) return;
      let since: string | undefined;
      try {
        since = body.since === undefined ? undefined : sinceOf(body.since);
      } catch (e) {
        return reply.code(400).send({ error: `since: ${(e as Error).message}` });
      }
      const r = await compileBody(body.files);
      if ('error' in r) return reply.code(400).send({ error: r.error });
      if (!r.result.ok)
        return reply.code(422).send({
          error: 'the edited policies do not compile',
          errors: r.result.errors.map(located),
        });
      const report = await whatIf(audit.store, r.result.set, since, body.limit);
      return { version: r.result.set.version, ...whatIfJson(report) };
    });
}
