// What Cordon tells policies about the files an action touches. A PEP that knows which
// arguments are paths (the MCP gateway, from each tool's input schema and its configuration)
// sends them as `paths`; Cedar has no "for every element", so besides the set itself Cordon
// derives two sets of directories that make "every path is inside X" and "some path is inside
// X" one `contains` each:
//   context.paths        every path, normalized and absolute
//   context.pathsAllIn   the directories that contain every one of them (empty when none)
//   context.pathsSomeIn  the directories that contain at least one of them
// "Contains" is lexical and strict: "/a" contains "/a/b" but not "/a" itself or "/ab".

import { posix } from 'node:path';

export interface PathFacts {
  paths: string[];
  pathsAllIn: string[];
  pathsSomeIn: string[];
}

/** A path as policies see it: absolute, no `.`/`..` segments, no repeated or trailing slash. */
export function normalizeAbsolutePath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Every directory strictly above an absolute normalized path, "/" first. */
export function ancestors(path: string): string[] {
  const out: string[] = [];
  if (path === '/') return out;
  for (let i = path.indexOf('/', 1); i > 0; i = path.indexOf('/', i + 1))
    out.push(path.slice(0, i));
  return ['/', ...out];
}

export function pathFacts(paths: string[]): PathFacts {
  const all = [...new Set(paths.map(normalizeAbsolutePath))].sort();
  const some = new Set<string>();
  let common: Set<string> | undefined;
  for (const p of all) {
    const up = ancestors(p);
    for (const d of up) some.add(d);
    common = common ? new Set(up.filter((d) => common!.has(d))) : new Set(up);
  }
  return { paths: all, pathsAllIn: [...(common ?? [])].sort(), pathsSomeIn: [...some].sort() };
}
