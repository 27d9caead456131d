// Which packages a Node program loads: for tests that a command or an entry point does not pay
// for what it does not use. The program runs in a child with a resolve hook registered before
// anything else (every URL the ESM loader resolves) and, at exit, the CommonJS modules in
// require.cache (what `require` and createRequire load, which the hook does not see).

import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './fixtures.js';

const run = promisify(execFile);

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.RESOLVED_LOG, r.url + '\\n');
  return r;
}`;

const REGISTER = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register('./hooks.mjs', import.meta.url);
const require = createRequire(import.meta.url);
process.on('exit', () => {
  for (const f of Object.keys(require.cache)) appendFileSync(process.env.RESOLVED_LOG, f + '\\n');
});`;

export interface Loaded {
  /** Package names (`zod`, `@cedar-policy/cedar-wasm`) of every module loaded from node_modules. */
  packages: Set<string>;
  stdout: string;
}

/** Runs `node ARGS` in `cwd` (default: a new temp directory) and reports what it loaded. */
export async function loadedPackages(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Loaded> {
  const cwd = opts.cwd ?? (await tempDir('cordon-loads-'));
  const tracer = await tempDir('cordon-loads-hooks-');
  await writeFile(join(tracer, 'hooks.mjs'), HOOKS);
  await writeFile(join(tracer, 'register.mjs'), REGISTER);
  const log = join(tracer, 'resolved.txt');
  const { stdout } = await run(
    process.execPath,
    ['--import', join(tracer, 'register.mjs'), ...args],
    { cwd, env: { ...(opts.env ?? process.env), RESOLVED_LOG: log } },
  );
  const packages = new Set<string>();
  for (const line of (await readFile(log, 'utf8').catch(() => '')).split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(decodeURIComponent(line));
    if (m) packages.add(m[1]!);
  }
  return { packages, stdout };
}
