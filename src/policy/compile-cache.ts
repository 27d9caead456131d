// A cache of policy analyses: what cedar-wasm says about a policy set (parsed policies and
// their JSON, the resolved schema, the checked entities, the warnings), which is most of what
// loading a set costs. An entry is keyed by the set's version (sha256 over every source)
// together with the cache format, Cordon's version, the code that analyzes and cedar-wasm's
// version, so any change to the sources or to what checks them misses. An entry is trusted
// only when its key and its payload's checksum match; anything else (truncated, corrupt,
// another key) is ignored and rewritten. Entries are written to a temporary file and renamed,
// readable by their owner only. Only sets that compile are cached.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PolicyAnalysis } from '../core/compile.js';

const FORMAT = 1;
/** Entries kept per cache directory; the least recently written go first beyond this. */
const MAX_ENTRIES = 64;

/** `CORDON_CACHE_DIR` (`off` disables), else `$XDG_CACHE_HOME/cordon`, else `~/.cache/cordon`. */
export function defaultCacheDir(env = process.env): string | undefined {
  const set = env.CORDON_CACHE_DIR;
  if (set !== undefined) return set === '' || set === 'off' ? undefined : set;
  const base = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  return base ? join(base, 'cordon') : undefined;
}

let codeIdentity: string | undefined;

/** Cordon's and cedar-wasm's versions and the analyzing code's digest: part of every key. */
function analyzerIdentity(): string {
  if (codeIdentity !== undefined) return codeIdentity;
  const require = createRequire(import.meta.url);
  const h = createHash('sha256');
  h.update(`format ${FORMAT}\0`);
  h.update(`cordon ${(require('../../package.json') as { version: string }).version}\0`);
  // Read from the package, not asked of cedar-wasm: a warm load never compiles its module.
  const wasmDir = dirname(require.resolve('@cedar-policy/cedar-wasm/nodejs'));
  const wasmPackage = readFileSync(join(wasmDir, 'package.json'), 'utf8');
  const wasmVersion = (JSON.parse(wasmPackage) as { version: string }).version;
  h.update(`cedar ${wasmVersion} ${statSync(join(wasmDir, 'cedar_wasm_bg.wasm')).size}\0`);
  // A development build keeps its version number across changes to the checks themselves.
  for (const m of ['../core/compile.js', '../inspect/obligations.js'])
    h.update(readFileSync(fileURLToPath(new URL(m, import.meta.url))));
  codeIdentity = h.digest('hex');
  return codeIdentity;
}

const entryName = (key: string) => `${createHash('sha256').update(key).digest('hex')}.json`;
const keyOf = (version: string) => `${analyzerIdentity()} ${version}`;

interface Entry {
  key: string;
  sha256: string;
  payload: string;
}

function isAnalysis(x: unknown): x is PolicyAnalysis {
  const a = x as PolicyAnalysis;
  return (
    !!a &&
    typeof a === 'object' &&
    Array.isArray(a.policies) &&
    Array.isArray(a.entities) &&
    Array.isArray(a.warnings) &&
    (a.schema === undefined || (typeof a.schema === 'object' && a.schema !== null)) &&
    a.policies.every(
      (p) =>
        typeof p?.id === 'string' &&
        typeof p.file === 'string' &&
        typeof p.text === 'string' &&
        (p.effect === 'permit' || p.effect === 'forbid') &&
        typeof p.json === 'object' &&
        p.json !== null &&
        typeof p.annotations === 'object',
    )
  );
}

/** The cached analysis of the set with this version, or undefined (absent or not to be trusted). */
export function readCachedAnalysis(dir: string, version: string): PolicyAnalysis | undefined {
  try {
    const key = keyOf(version);
    const entry = JSON.parse(readFileSync(join(dir, 'policies', entryName(key)), 'utf8')) as Entry;
    if (entry?.key !== key || typeof entry.payload !== 'string') return undefined;
    if (createHash('sha256').update(entry.payload).digest('hex') !== entry.sha256) return undefined;
    const analysis = JSON.parse(entry.payload) as unknown;
    return isAnalysis(analysis) ? analysis : undefined;
  } catch {
    return undefined; // missing, unreadable or corrupt: compile instead
  }
}

/** Stores the analysis (atomically, mode 0600); a cache that cannot be written is skipped. */
export function writeCachedAnalysis(dir: string, version: string, analysis: PolicyAnalysis): void {
  try {
    const key = keyOf(version);
    const folder = join(dir, 'policies');
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const payload = JSON.stringify(analysis);
    const entry: Entry = {
      key,
      sha256: createHash('sha256').update(payload).digest('hex'),
      payload,
    };
    const file = join(folder, entryName(key));
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    try {
      renameSync(tmp, file);
    } catch (e) {
      unlinkSync(tmp);
      throw e;
    }
    prune(folder);
  } catch {
    /* read-only or full disk: the next load compiles again */
  }
}

function prune(folder: string): void {
  const names = readdirSync(folder).filter((n) => n.endsWith('.json'));
  if (names.length <= MAX_ENTRIES) return;
  const byAge = names
    .map((n) => ({ n, t: statSync(join(folder, n)).mtimeMs }))
    .sort((a, b) => a.t - b.t);
  for (const { n } of byAge.slice(0, names.length - MAX_ENTRIES)) unlinkSync(join(folder, n));
}
