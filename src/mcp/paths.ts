// Path-like tool arguments are normalized before the decision, and the normalized value is what
// the upstream server receives: the policy and the server see the same path, so `..` segments,
// `.` segments and repeated slashes cannot walk a path out of the directory a rule allows.
// Arguments are path-like by name (path, paths, file, dir, source, destination, …). A NUL byte
// in one is refused.

import { posix } from 'node:path';

const PATH_KEY =
  /^(path|paths|file|files|filename|filepath|file_path|dir|dirs|directory|directories|folder|source|destination|src|dest|target|root|cwd|uri_path)$/i;

export class PathArgumentError extends Error {}

function normalizeOne(value: string, key: string): string {
  if (value.includes('\0')) throw new PathArgumentError(`argument "${key}" contains a NUL byte`);
  if (value === '') return value;
  const normalized = posix.normalize(value);
  // posix.normalize keeps a trailing slash and leading "../" of relative paths: both are fine,
  // the caller's policy sees them as they are.
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** A copy of the arguments with every path-like value normalized (recursively). */
export function normalizePathArguments(args: unknown, key = ''): unknown {
  if (Array.isArray(args)) return args.map((v) => normalizePathArguments(v, key));
  if (args && typeof args === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args)) out[k] = normalizePathArguments(v, k);
    return out;
  }
  if (typeof args === 'string' && PATH_KEY.test(key)) return normalizeOne(args, key);
  return args;
}
