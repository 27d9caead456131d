// Runs every compiled test file (dist/**/*.test.js) with Node's test runner. The compile cache
// goes to a fresh directory (removed at the end) unless CORDON_CACHE_DIR says where.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const only = process.argv.slice(2);
const files = find('dist', [])
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/');
  process.exit(1);
}
const cache = process.env.CORDON_CACHE_DIR
  ? undefined
  : mkdtempSync(join(tmpdir(), 'cordon-cache-'));
const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: cache ? { ...process.env, CORDON_CACHE_DIR: cache } : process.env,
});
if (cache) rmSync(cache, { recursive: true, force: true });
process.exit(r.status ?? 1);
