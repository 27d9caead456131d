// Path patterns and id templates of the ext_authz mapping (docs/ext-authz.md, "Routes").
// A pattern is whole segments: a literal, `{name}` (one segment) or `{name*}` (the rest, last
// only). Matching is on the decoded path, and refuses what would let one request name another
// resource than the upstream sees: dot segments (`..` and its percent-encodings), empty
// segments (`//`), a percent-encoded slash, any backslash or a raw `;` inside a segment, and
// bad percent-encoding.

export class PatternError extends Error {}

/** The path cannot be matched safely: the request is denied as malformed. */
export class MalformedPath extends Error {}

type Segment = { literal: string } | { param: string; rest: boolean };

export interface PathPattern {
  readonly source: string;
  /** Parameter names in order. */
  readonly names: string[];
  /** The parameters when `segments` (decoded, from splitPath) match, else undefined. */
  match(segments: string[]): Record<string, string> | undefined;
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}$/;

export function compilePathPattern(source: string): PathPattern {
  if (!source.startsWith('/')) throw new PatternError('a path pattern starts with /');
  const parts = source.slice(1).split('/');
  const segments: Segment[] = parts.map((part, i) => {
    const m = PARAM.exec(part);
    if (m) {
      if (m[2] && i !== parts.length - 1)
        throw new PatternError(`{${m[1]}*} must be the last segment`);
      return { param: m[1]!, rest: m[2] === '*' };
    }
    if (/[{}]/.test(part))
      throw new PatternError(
        `"${part}": a parameter is a whole segment, {name} or {name*} (letters, digits, _)`,
      );
    return { literal: part };
  });
  const names = segments.flatMap((s) => ('param' in s ? [s.param] : []));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new PatternError(`{${dup}} appears twice`);
  return {
    source,
    names,
    match(path) {
      const out: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i]!;
        if ('literal' in s) {
          if (path[i] !== s.literal) return undefined;
        } else if (s.rest) {
          out[s.param] = path.slice(i).join('/');
          return out;
        } else {
          if (i >= path.length || path[i] === '') return undefined;
          out[s.param] = path[i]!;
        }
      }
      return path.length === segments.length ? out : undefined;
    },
  };
}

const DOT_SEGMENT = /^(\.|%2e){1,2}$/i;

/**
 * The decoded segments of an absolute path (no query). Throws MalformedPath for what the
 * upstream could read as another path than the one matched (see the header comment).
 */
export function splitPath(path: string): string[] {
  if (!path.startsWith('/')) throw new MalformedPath('the path does not start with /');
  const raw = path.slice(1).split('/');
  return raw.map((seg, i) => {
    if (DOT_SEGMENT.test(seg)) throw new MalformedPath('the path has a . or .. segment');
    // Servlet containers and Spring drop `;params` from a segment: /admin;x would be /admin.
    if (seg.includes(';'))
      throw new MalformedPath('the path has a ; (path parameter) in a segment');
    if (seg === '' && i !== raw.length - 1)
      throw new MalformedPath('the path has an empty segment');
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      throw new MalformedPath('the path has invalid percent-encoding');
    }
    if (decoded.includes('/')) throw new MalformedPath('the path has an encoded / in a segment');
    // Some upstreams (Windows servers, several routers) read \ as /: `..\..\x` would climb.
    if (decoded.includes('\\')) throw new MalformedPath('the path has a backslash in a segment');
    if (decoded === '.' || decoded === '..')
      throw new MalformedPath('the path has a . or .. segment');
    return decoded;
  });
}

const VAR = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The variable names a template uses; PatternError for a stray brace. */
export function templateNames(template: string): string[] {
  if (/[{}]/.test(template.replace(VAR, '')))
    throw new PatternError(`"${template}": a variable is {name} (letters, digits, _)`);
  return [...template.matchAll(VAR)].map((m) => m[1]!);
}

/** A template split once into literal text and variable names, for every request after. */
export type CompiledTemplate = (values: Record<string, string | undefined>) => string;

/** `template` compiled: each {name} is replaced by its value ("" when the value is absent). */
export function compileTemplate(template: string): CompiledTemplate {
  // split with a capturing group: literal, name, literal, name, …, literal.
  const parts = template.split(/\{([A-Za-z_][A-Za-z0-9_]*)\}/);
  if (parts.length === 1) return () => template;
  return (values) => {
    let out = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) out += (values[parts[i]!] ?? '') + parts[i + 1]!;
    return out;
  };
}

/** The template with each {name} replaced by its value ("" when the value is absent). */
export function render(template: string, values: Record<string, string | undefined>): string {
  return compileTemplate(template)(values);
}
