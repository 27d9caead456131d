// The paths a tool call touches. An argument is a path when its name says so (path, paths,
// source, destination, …, at any depth), when the tool's input schema says so (a property
// described as a path or with format uri/uri-reference holding a file: URI, arrays of them), or
// when the operator names it for that tool (`pathArguments` in the server's configuration).
// Each one is normalized before the decision and the normalized value is what the upstream
// server receives, so the policy and the server see the same path: `..`, `.` and repeated
// slashes cannot walk out of a directory a rule allows. Every path the call touches is then
// sent to the PDP as `paths` (absolute: a relative one is placed against the server's working
// directory; `~/x` counts as both the home directory's x and a literal "~" directory), which
// fills context.paths, pathsAllIn and pathsSomeIn (core/path-facts.ts). A decoy `path` next to
// the `source` the server acts on no longer satisfies a rule: every path is in the set.
// A NUL byte in a path, an encoded slash in a file: URI, or a relative path on a server whose
// working directory Cordon does not know, is refused.

import { homedir } from 'node:os';
import { posix, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { normalizeAbsolutePath } from '../../core/path-facts.js';

const PATH_KEY =
  /^(path|paths|file|files|filename|filepath|file_path|dir|dirs|directory|directories|folder|source|destination|src|dest|target|root|cwd|uri_path)$/i;
/** A property whose schema description reads like a path ("Path to the file", "directory path"). */
const PATH_DESCRIPTION = /\bpaths?\b|\b(file|directory|folder) ?names?\b/i;
const URI_FORMATS = new Set(['uri', 'uri-reference', 'iri', 'iri-reference']);

export class PathArgumentError extends Error {}

/** What Cordon knows about where one server resolves paths. */
export interface PathSettings {
  /** Argument names that are paths, per tool (operator configuration). */
  pathArguments?: Record<string, string[]>;
  /** The directory relative paths are resolved against (default: a stdio server's cwd). */
  base?: string;
  /** The home directory `~` expands to on the server (default: a stdio server's HOME). */
  home?: string;
}

export interface ToolPaths {
  /** The arguments with every path argument normalized: what the server receives. */
  input: unknown;
  /** Every absolute path the call touches, normalized. */
  paths: string[];
}

type Schema = Record<string, unknown> | undefined;

/** The sub-schema of a property or array item, alternatives (anyOf/oneOf/allOf) merged. */
function alternatives(s: Schema): Record<string, unknown>[] {
  if (!s || typeof s !== 'object') return [];
  const out = [s];
  for (const k of ['anyOf', 'oneOf', 'allOf'])
    if (Array.isArray(s[k])) for (const x of s[k] as Schema[]) out.push(...alternatives(x));
  return out;
}

function propertySchema(s: Schema, key: string): Schema {
  for (const a of alternatives(s)) {
    const props = a.properties as Record<string, Schema> | undefined;
    if (props && Object.hasOwn(props, key)) return props[key];
    if (a.additionalProperties && typeof a.additionalProperties === 'object')
      return a.additionalProperties as Schema;
  }
  return undefined;
}

function itemSchema(s: Schema): Schema {
  for (const a of alternatives(s))
    if (a.items && typeof a.items === 'object') return a.items as Schema;
  return undefined;
}

/** Says the schema that this value (or, for arrays, each item) is a path? */
function schemaSaysPath(s: Schema): 'path' | 'uri' | undefined {
  for (const a of alternatives(s)) {
    const text = `${typeof a.description === 'string' ? a.description : ''} ${typeof a.title === 'string' ? a.title : ''}`;
    if (PATH_DESCRIPTION.test(text)) return 'path';
    if (typeof a.format === 'string' && URI_FORMATS.has(a.format)) return 'uri';
  }
  return undefined;
}

class PathCollector {
  readonly paths = new Set<string>();

  constructor(
    private readonly settings: PathSettings,
    private readonly named: Set<string>,
  ) {}

  /** Where `value` (a path argument) points, added to the set; returns what the server gets. */
  path(value: string, key: string): string {
    if (value.includes('\0')) throw new PathArgumentError(`argument "${key}" contains a NUL byte`);
    if (value === '') return value;
    if (/^file:/i.test(value)) return this.fileUri(value, key);
    const normalized = normalizeAbsolutePath(value);
    if (normalized.startsWith('/')) this.paths.add(normalized);
    else this.relative(normalized, key);
    return normalized;
  }

  private relative(p: string, key: string): void {
    const { base, home } = this.settings;
    // A server that expands "~" reads the home directory; one that does not reads "./~".
    if (p === '~' || p.startsWith('~/')) {
      if (home === undefined)
        throw new PathArgumentError(
          `argument "${key}" starts with ~ and the server's home directory is unknown`,
        );
      this.paths.add(normalizeAbsolutePath(posix.join(home, p.slice(1))));
    }
    if (base === undefined)
      throw new PathArgumentError(
        `argument "${key}" is a relative path and the server's working directory is unknown (set "pathBase" for this server)`,
      );
    this.paths.add(normalizeAbsolutePath(posix.join(base, p)));
  }

  private fileUri(value: string, key: string): string {
    let path: string;
    try {
      path = fileURLToPath(value);
    } catch (e) {
      throw new PathArgumentError(`argument "${key}": ${(e as Error).message}`);
    }
    const normalized = normalizeAbsolutePath(path);
    this.paths.add(normalized);
    return pathToFileURL(normalized).href;
  }

  walk(v: unknown, key: string, schema: Schema, inherited?: 'path' | 'uri'): unknown {
    const says = schemaSaysPath(schema) ?? inherited;
    const byName = PATH_KEY.test(key) || this.named.has(key);
    if (typeof v === 'string') {
      if (byName || says === 'path') return this.path(v, key);
      // A URI-typed argument is a path only when it names a file.
      if (says === 'uri' && /^file:/i.test(v)) return this.path(v, key);
      return v;
    }
    if (Array.isArray(v)) {
      const items = itemSchema(schema);
      // `paths: [...]`: every item of an array argument named or described as paths.
      const itemHint = byName ? 'path' : says;
      return v.map((x) =>
        typeof x === 'string' ? this.walk(x, key, items, itemHint) : this.walk(x, '', items),
      );
    }
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.walk(x, k, propertySchema(schema, k));
      return out;
    }
    return v;
  }
}

/**
 * The arguments with every path argument normalized, and the absolute paths the call touches.
 * `tool` gives the input schema; without one, only names (and configuration) say what a path is.
 */
export function toolPaths(args: unknown, tool?: Tool, settings: PathSettings = {}): ToolPaths {
  const named = new Set(tool ? (settings.pathArguments?.[tool.name] ?? []) : []);
  const c = new PathCollector(settings, named);
  const input = c.walk(args, '', tool?.inputSchema as Schema);
  return { input, paths: [...c.paths].sort() };
}

/** Where a stdio server resolves relative paths and `~`: its cwd and HOME (inherited or set). */
export function stdioPathSettings(spec: { cwd?: string; env?: Record<string, string> }): {
  base: string;
  home: string;
} {
  return {
    base: resolve(spec.cwd ?? '.'),
    home: spec.env?.HOME ?? process.env.HOME ?? homedir(),
  };
}

/**
 * A resource URI as it is decided and forwarded: parsed as a URL (dot segments resolved,
 * `%2e%2e` included), escapes of unreserved characters decoded and the others upper-cased.
 * One whose path still holds a dot segment once fully decoded (`..%2f`) is refused: a server
 * that decodes before resolving would read another resource than the one decided.
 */
export function normalizeResourceUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new PathArgumentError(`resource URI "${uri}" is not a URI`);
  }
  const href = url.href.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
    const c = String.fromCharCode(parseInt(h, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  const normalized = new URL(href).href;
  let decoded: string;
  try {
    decoded = decodeURIComponent(new URL(normalized).pathname);
  } catch {
    throw new PathArgumentError(`resource URI "${uri}" has a malformed escape`);
  }
  if (decoded.includes('\0') || decoded.split(/[/\\]/).some((s) => s === '.' || s === '..'))
    throw new PathArgumentError(`resource URI "${uri}" hides a dot segment`);
  return normalized;
}
