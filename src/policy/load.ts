// Reads a policy directory from disk: *.cedar (any depth, except tests/ and dot-folders),
// schema.cedarschema and entities.json. File names in errors are relative to the directory.
// A set loaded before (same sources, same Cordon) comes from the compile cache.

import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { PolicySetOptions } from '../core/policy-set.js';
import {
  assemblePolicySet,
  policyVersion,
  type CompileResult,
  type PolicySources,
  type SourceFile,
} from '../core/compile.js';
import { analyzeSources } from './isolated-compile.js';
import { defaultCacheDir, readCachedAnalysis, writeCachedAnalysis } from './compile-cache.js';

export const SCHEMA_FILE = 'schema.cedarschema';
export const ENTITIES_FILE = 'entities.json';

export class PolicyDirError extends Error {}

/**
 * A symbolic link to a file counts as the file: a Kubernetes ConfigMap volume presents every key
 * as a link into its `..data` directory (which, starting with a dot, is not read itself).
 */
async function isFileLink(e: Dirent, full: string): Promise<boolean> {
  if (!e.isSymbolicLink()) return false;
  try {
    return (await stat(full)).isFile();
  } catch {
    return false;
  }
}

async function cedarFiles(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) {
      if (dir === root && e.name === 'tests') continue;
      await cedarFiles(root, full, out);
    } else if (e.name.endsWith('.cedar') && (e.isFile() || (await isFileLink(e, full)))) {
      out.push(full);
    }
  }
}

async function readOptional(root: string, name: string): Promise<SourceFile | undefined> {
  try {
    return { file: name, text: await readFile(join(root, name), 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function readPolicySources(dir: string): Promise<PolicySources> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new PolicyDirError(`policy directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new PolicyDirError(`${dir} is not a directory`);
  const paths: string[] = [];
  await cedarFiles(dir, dir, paths);
  paths.sort();
  const policies = await Promise.all(
    paths.map(async (p) => ({
      file: relative(dir, p).split(sep).join('/'),
      text: await readFile(p, 'utf8'),
    })),
  );
  const src: PolicySources = { policies };
  const schema = await readOptional(dir, SCHEMA_FILE);
  if (schema) src.schema = schema;
  const entities = await readOptional(dir, ENTITIES_FILE);
  if (entities) src.entities = entities;
  return src;
}

export interface LoadOptions extends PolicySetOptions {
  /** Where compiled sets are cached: a directory, or false for none (default: defaultCacheDir()). */
  cacheDir?: string | false;
}

export async function loadPolicyDir(
  dir: string,
  options: LoadOptions = {},
): Promise<CompileResult> {
  const { cacheDir = defaultCacheDir() ?? false, ...setOptions } = options;
  const src = await readPolicySources(dir);
  if (cacheDir === false) {
    const r = await analyzeSources(src);
    return r.ok ? assemblePolicySet(src, r.analysis, setOptions) : r;
  }
  const version = policyVersion(src);
  const cached = readCachedAnalysis(cacheDir, version);
  if (cached) return assemblePolicySet(src, cached, setOptions);
  const r = await analyzeSources(src);
  if (!r.ok) return r;
  writeCachedAnalysis(cacheDir, version, r.analysis);
  return assemblePolicySet(src, r.analysis, setOptions);
}
