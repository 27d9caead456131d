// Which packages a Node program loads: for tests that a command or an entry point does not pay
// for what it does not use. The program runs in a child with a resolve hook registered before
// anything else (every URL the ESM loader resolves) and, at exit, the CommonJS modules in
// require.cache (what `require` and createRequire load, which the hook does not see).

import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './fixtures.js';

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

export interface LoadOptions {
  /** Default: a new temp directory. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** A server: stopped (SIGTERM) once its stdout matches this, and measured up to then. */
  readyOn?: RegExp;
}

/** Runs `node ARGS` and reports what it loaded; rejects when it fails. */
export async function loadedPackages(args: string[], opts: LoadOptions = {}): Promise<Loaded> {
  const cwd = opts.cwd ?? (await tempDir('cordon-loads-'));
  const tracer = await tempDir('cordon-loads-hooks-');
  await writeFile(join(tracer, 'hooks.mjs'), HOOKS);
  await writeFile(join(tracer, 'register.mjs'), REGISTER);
  const log = join(tracer, 'resolved.txt');
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(tracer, 'register.mjs'), ...args], {
      cwd,
      env: { ...(opts.env ?? process.env), RESOLVED_LOG: log },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let ready = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (!ready && opts.readyOn?.test(out)) {
        ready = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && (ready || !opts.readyOn)) resolve(out);
      else reject(new Error(`node ${args.join(' ')} exited ${code}: ${err.slice(0, 2000)}`));
    });
  });
  const packages = new Set<string>();
  for (const line of (await readFile(log, 'utf8').catch(() => '')).split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(decodeURIComponent(line));
    if (m) packages.add(m[1]!);
  }
  return { packages, stdout };
}
