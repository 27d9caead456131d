// The `mcpServers` file that Claude Desktop, Cursor and VS Code use (VS Code names the key
// `servers`): entries with command/args/env, or a url. `wrap` rewrites one so that every server
// runs behind a Cordon gateway, with each gateway keeping its own log under the data directory.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { formatIssues } from '../../core/request.js';
import type { UpstreamSpec } from './upstream.js';

// Cordon's own keys on an entry: which tool arguments are paths, and where relative ones point.
const pathKeys = {
  pathArguments: z.record(z.string(), z.array(z.string().min(1))).optional(),
  pathBase: z.string().startsWith('/', 'an absolute directory').optional(),
};
const stdioEntry = z.looseObject({
  ...pathKeys,
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
});
const httpEntry = z.looseObject({
  ...pathKeys,
  url: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
});
const entry = z.union([stdioEntry, httpEntry]);
const file = z.looseObject({
  mcpServers: z.record(z.string(), entry).optional(),
  servers: z.record(z.string(), entry).optional(),
});

export type McpServersFile = z.infer<typeof file>;
export class McpConfigError extends Error {}

const SERVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseMcpServers(
  text: string,
  source: string,
): { key: 'mcpServers' | 'servers'; raw: McpServersFile; specs: UpstreamSpec[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new McpConfigError(`${source}: not JSON: ${(e as Error).message}`);
  }
  const r = file.safeParse(json);
  if (!r.success) throw new McpConfigError(`${source}: ${formatIssues(r.error)}`);
  const key = r.data.mcpServers ? 'mcpServers' : 'servers';
  const servers = r.data[key];
  if (!servers || Object.keys(servers).length === 0)
    throw new McpConfigError(`${source}: no servers under "mcpServers" (or "servers")`);
  const specs = Object.entries(servers).map(([name, e]): UpstreamSpec => {
    if (!SERVER_NAME.test(name))
      throw new McpConfigError(
        `${source}: server name "${name}" must be letters, digits, _ . - (at most 64)`,
      );
    const stdio = stdioEntry.safeParse(e);
    const paths = (x: { pathArguments?: Record<string, string[]>; pathBase?: string }) => ({
      ...(x.pathArguments ? { pathArguments: x.pathArguments } : {}),
      ...(x.pathBase ? { pathBase: x.pathBase } : {}),
    });
    if (stdio.success) {
      const x = stdio.data;
      return {
        ...paths(x),
        name,
        command: x.command,
        ...(x.args ? { args: x.args } : {}),
        ...(x.env ? { env: x.env } : {}),
        ...(x.cwd ? { cwd: x.cwd } : {}),
      };
    }
    const http = httpEntry.parse(e);
    return {
      ...paths(http),
      name,
      url: http.url,
      ...(http.headers ? { headers: http.headers } : {}),
    };
  });
  return { key, raw: r.data, specs };
}

const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** An entry `wrap` wrote earlier: wrapping again leaves it as it is. */
function alreadyWrapped(entry: unknown): boolean {
  const args = (entry as { args?: unknown }).args;
  return (
    Array.isArray(args) &&
    typeof args[0] === 'string' &&
    /[\\/]cli[\\/]main\.js$/.test(args[0]) &&
    args[1] === 'mcp' &&
    args[2] === 'serve'
  );
}

/**
 * The entry with its command replaced, its other keys (a client's own: `disabled`,
 * `autoApprove`, `env` …) kept where they were: `command` and `args` take the place of the
 * original `command` (or `url`); `args`, `headers` and `type` belong to the original transport.
 */
function wrapEntry(original: Record<string, unknown>, args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let placed = false;
  const place = () => {
    if (placed) return;
    out.command = process.execPath;
    out.args = args;
    placed = true;
  };
  for (const [k, v] of Object.entries(original)) {
    if (k === 'command' || k === 'url') place();
    else if (k !== 'args' && k !== 'headers' && k !== 'type') out[k] = v;
  }
  place();
  return out;
}

/** The indentation the file uses (two spaces when it has none), so the output reads like it. */
function indentOf(text: string): string | number {
  const m = /\n([ \t]+)["}\]]/.exec(text);
  return m ? m[1]! : 2;
}

export interface WrappedMcpServers {
  /** The file, every server behind Cordon, laid out as the input was. */
  text: string;
  /** What the user should know (an entry whose headers cannot follow it). */
  warnings: string[];
}

/**
 * The same file with every server behind `cordon mcp serve` (run with this Node and this
 * Cordon). Everything else in it stays as and where it was: other top-level keys, each entry's
 * other keys, key order and indentation.
 */
export function wrapMcpServers(
  text: string,
  source: string,
  o: { policies: string; agent: string; user?: string; data: string; engine?: string },
): WrappedMcpServers {
  const { key, specs } = parseMcpServers(text, source);
  // The parsed text, not the schema's output: the schema moves the keys it knows first.
  const json = JSON.parse(text) as Record<string, Record<string, Record<string, unknown>>>;
  const servers = json[key]!;
  const warnings: string[] = [];
  for (const spec of specs) {
    const original = servers[spec.name]!;
    if (alreadyWrapped(original)) continue;
    if ('headers' in original)
      warnings.push(
        `server "${spec.name}": its headers are not passed on by \`mcp serve --url\`; serve it with \`cordon mcp serve --config ${source}\` instead`,
      );
    const args = [
      CLI,
      'mcp',
      'serve',
      '--policies',
      resolve(o.policies),
      '--agent',
      o.agent,
      ...(o.user ? ['--user', o.user] : []),
      ...(o.engine ? ['--engine', o.engine] : []),
      '--data',
      resolve(o.data, `mcp-${spec.name}`),
      '--name',
      spec.name,
      ...('command' in spec ? ['--', spec.command, ...(spec.args ?? [])] : ['--url', spec.url]),
    ];
    servers[spec.name] = wrapEntry(original, args);
  }
  return { text: `${JSON.stringify(json, null, indentOf(text))}\n`, warnings };
}
