// Policy tests: tests/*.yaml in a policy directory, each case a request and the outcome the
// author expects. Cases may pin facts Cordon would otherwise establish (delegation depth,
// content findings, an approval on record) to test rules that depend on them.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { Engine, PinnedFacts } from '../core/engine.js';
import { formatIssues, inPersonOrAgentRequestSchema } from '../core/request.js';
import type { Decision, Outcome } from '../core/types.js';

const outcome = z.enum(['allow', 'deny', 'require_approval']);

const caseSchema = z.strictObject({
  name: z.string().min(1),
  request: inPersonOrAgentRequestSchema,
  facts: z
    .strictObject({
      delegation: z
        .strictObject({ depth: z.number().int(), chain: z.array(z.string()), user: z.string() })
        .partial(),
      session: z
        .strictObject({
          id: z.string(),
          actions: z.array(z.string()),
          labels: z.array(z.string()),
          counts: z.record(z.string(), z.number().int()),
        })
        .partial(),
      content: z
        .strictObject({
          pii: z.array(z.string()),
          secrets: z.array(z.string()),
          injection: z.number().int(),
        })
        .partial(),
      risk: z.strictObject({ score: z.number().int().min(0).max(100) }).partial(),
      approval: z.strictObject({ granted: z.boolean(), by: z.string() }).partial(),
      usage: z
        .strictObject({
          agent: z.strictObject({ requests: z.number().int(), tokens: z.number().int() }),
          user: z.strictObject({ requests: z.number().int(), tokens: z.number().int() }),
        })
        .partial(),
      baseline: z
        .strictObject({
          mode: z.enum(['off', 'learn', 'monitor', 'enforce']),
          // A case names the dimensions that are novel; the others are not.
          novel: z.strictObject({
            tool: z.boolean().default(false),
            model: z.boolean().default(false),
            destination: z.boolean().default(false),
            path: z.boolean().default(false),
            dataset: z.boolean().default(false),
            delegate: z.boolean().default(false),
          }),
          deviation: z.number().int().min(0).max(100),
          rateRatio: z.number().int().min(0),
        })
        .partial(),
      time: z.iso.datetime({ offset: true }),
    })
    .partial()
    .optional(),
  expect: outcome,
  /** Policy ids that must be among the decision's reasons. */
  reasons: z.array(z.string()).optional(),
  /** Obligation types that must be present. */
  obligations: z.array(z.string()).optional(),
});

const fileSchema = z.strictObject({
  name: z.string().optional(),
  cases: z.array(caseSchema).min(1),
});

export type PolicyTestCase = z.infer<typeof caseSchema>;

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  expected: Outcome;
  decision?: Decision;
  problems: string[];
}

export interface TestFileError {
  file: string;
  message: string;
}

/** The cases of one test file's text (`file` is its name for messages), or why there are none. */
export function parseTestFile(
  file: string,
  text: string,
): { cases: { file: string; c: PolicyTestCase }[]; error?: TestFileError } {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const pos =
      e instanceof YAMLParseError && e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : '';
    return {
      cases: [],
      error: {
        file: `${file}${pos}`,
        message: (e as Error).message.split('\n')[0] ?? 'invalid YAML',
      },
    };
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) return { cases: [], error: { file, message: formatIssues(parsed.error) } };
  return { cases: parsed.data.cases.map((c) => ({ file, c })) };
}

export async function readTestFiles(
  dir: string,
): Promise<{ cases: { file: string; c: PolicyTestCase }[]; errors: TestFileError[] }> {
  const testsDir = join(dir, 'tests');
  let names: string[];
  try {
    names = (await readdir(testsDir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch {
    return { cases: [], errors: [{ file: 'tests/', message: 'no tests directory' }] };
  }
  const cases: { file: string; c: PolicyTestCase }[] = [];
  const errors: TestFileError[] = [];
  for (const n of names) {
    const r = parseTestFile(`tests/${n}`, await readFile(join(testsDir, n), 'utf8'));
    if (r.error) errors.push(r.error);
    cases.push(...r.cases);
  }
  return { cases, errors };
}

export function pinnedFacts(c: PolicyTestCase): PinnedFacts | undefined {
  if (!c.facts) return undefined;
  const { time, ...rest } = c.facts;
  const pinned: PinnedFacts = { ...rest };
  if (time) pinned.time = new Date(time);
  return pinned;
}

export async function runCase(
  engine: Engine,
  file: string,
  c: PolicyTestCase,
): Promise<CaseResult> {
  const { request } = c;
  // No agent and no token: a user acting in person (an approver answering a request).
  const decision =
    request.agent === undefined && request.token === undefined && request.user !== undefined
      ? (await engine.traceHuman({ ...request, user: request.user, pep: 'test' })).decision
      : await engine.decide(
          // A test describes the world: its parents stand, as a trusted enforcement point's do.
          { ...request, pep: 'test', trustedFor: [request.resource.type] },
          pinnedFacts(c),
        );
  const problems: string[] = [];
  if (decision.decision !== c.expect)
    problems.push(`expected ${c.expect}, got ${decision.decision}`);
  const got = new Set(decision.reasons.map((r) => r.policy));
  for (const want of c.reasons ?? [])
    if (!got.has(want)) problems.push(`expected reason "${want}" is missing`);
  const obligations = new Set(decision.obligations.map((o) => o.type));
  for (const want of c.obligations ?? [])
    if (!obligations.has(want)) problems.push(`expected obligation "${want}" is missing`);
  return {
    file,
    name: c.name,
    passed: problems.length === 0,
    expected: c.expect,
    decision,
    problems,
  };
}
