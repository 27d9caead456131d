// `cordon init`: copies the shipped example policy directory (schema, policies, entities,
// tests), which is the same directory the README's quick start and the test suite use.

import { cp, mkdir, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export class ScaffoldError extends Error {}

export const EXAMPLE_POLICIES = fileURLToPath(new URL('../../examples/policies', import.meta.url));

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

export async function scaffold(dir: string, opts: { force: boolean }): Promise<string[]> {
  const files = (await listFiles(EXAMPLE_POLICIES))
    .map((f) => relative(EXAMPLE_POLICIES, f))
    .sort();
  if (!opts.force) {
    const clashes: string[] = [];
    for (const f of files) {
      try {
        await stat(join(dir, f));
        clashes.push(join(dir, f));
      } catch {
        /* absent: fine */
      }
    }
    if (clashes.length > 0)
      throw new ScaffoldError(`would overwrite ${clashes.join(', ')} (use --force)`);
  }
  await mkdir(dir, { recursive: true });
  await cp(EXAMPLE_POLICIES, dir, { recursive: true, force: true });
  return files.map((f) => join(dir, f));
}
