// Policy analysis that never touches the host's V8 flags. Past a few thousand policies, Node
// 20's V8 can abort the process while cedar-wasm parses them in one loop unless TurboFan
// inlining is off (core/compile.ts). The `cordon` command owns its process and switches the
// flag around the loop; a library host's process is not Cordon's to reconfigure, so there a
// large set is analyzed in a child Node process started with --no-turbo-inlining, and only the
// analysis (plain JSON, the same data the compile cache keeps) comes back to be assembled here.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  analyzePolicySources,
  assemblePolicySet,
  type AnalysisResult,
  type CompileResult,
  type PolicySources,
} from '../core/compile.js';
import type { PolicySetOptions } from '../core/policy-set.js';
import { processFlagsOwned } from '../core/process-flags.js';

/** From this many policies on, a library host analyzes in a child (the abort is near 6,000). */
export const ISOLATE_FROM_POLICIES = 2_000;

/** Policies in the sources, counted by their effect keyword (an upper bound: comments count too). */
export function countPolicies(src: PolicySources): number {
  let n = 0;
  for (const f of src.policies) n += f.text.match(/\b(?:permit|forbid)\s*\(/g)?.length ?? 0;
  return n;
}

/** The analysis, in this process when that is safe for it, else in a child. */
export async function analyzeSources(src: PolicySources): Promise<AnalysisResult> {
  if (processFlagsOwned() || countPolicies(src) < ISOLATE_FROM_POLICIES)
    return analyzePolicySources(src);
  return analyzeInChild(src);
}

const CHILD = fileURLToPath(new URL('./analyze-child.js', import.meta.url));

/** Runs analyze-child.js with inlining off: sources in on stdin, the analysis out on stdout. */
export function analyzeInChild(src: PolicySources): Promise<AnalysisResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-turbo-inlining', CHILD], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0)
        return reject(
          new Error(
            `policy analysis in a child process failed (${signal ?? `exit ${code}`}): ${Buffer.concat(err).toString().slice(0, 500)}`,
          ),
        );
      try {
        resolve(JSON.parse(Buffer.concat(out).toString()) as AnalysisResult);
      } catch (e) {
        reject(new Error(`policy analysis in a child process: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(src));
  });
}

/** A compiled set from sources, analyzed as analyzeSources says (loadPolicyDir for a directory). */
export async function compileSources(
  src: PolicySources,
  options: PolicySetOptions = {},
): Promise<CompileResult> {
  const r = await analyzeSources(src);
  return r.ok ? assemblePolicySet(src, r.analysis, options) : r;
}
