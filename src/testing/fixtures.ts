// Test helpers: policy sets from inline text, temporary policy directories.

import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { compilePolicySet, type PolicySources } from '../core/compile.js';
import { Engine, type EngineOptions } from '../core/engine.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import { EXAMPLE_POLICIES } from '../policy/scaffold.js';
import { loadPolicyDir } from '../policy/load.js';

export { EXAMPLE_POLICIES };

export function sources(files: Record<string, string>): PolicySources {
  const src: PolicySources = { policies: [] };
  for (const [file, text] of Object.entries(files)) {
    if (file === 'schema.cedarschema') src.schema = { file, text };
    else if (file === 'entities.json') src.entities = { file, text };
    else src.policies.push({ file, text });
  }
  return src;
}

export function compileOk(files: Record<string, string>): CompiledPolicySet {
  const r = compilePolicySet(sources(files));
  if (!r.ok)
    throw new Error(
      `expected the policies to compile:\n${r.errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.message}`).join('\n')}`,
    );
  return r.set;
}

export function engineFor(set: CompiledPolicySet, opts: Partial<EngineOptions> = {}): Engine {
  return new Engine({ policies: { current: () => set }, ...opts });
}

export async function exampleEngine(opts: Partial<EngineOptions> = {}): Promise<Engine> {
  const r = await loadPolicyDir(EXAMPLE_POLICIES);
  if (!r.ok) throw new Error('example policies do not compile');
  return engineFor(r.set, opts);
}

export async function tempDir(prefix = 'cordon-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  }
}

export const entities = (list: unknown[]) => JSON.stringify(list);
const entityOf =
  (type: string) =>
  (
    id: string,
    parents: { type: string; id: string }[] = [],
    attrs: Record<string, unknown> = {},
  ) => ({
    uid: { type, id },
    attrs,
    parents,
  });
export const agent = entityOf('Agent');
export const user = entityOf('User');
