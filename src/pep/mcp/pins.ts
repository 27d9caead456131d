// Operator-pinned MCP tools. A server's annotations (readOnlyHint, destructiveHint…) are its own
// claims; the pin file holds, per tool, what the operator reviewed: a digest of the tool's
// definition (name, title, description, schemas, annotations) and the attributes policies see
// on its Tool entity. A tool whose live definition no longer matches its pin (a "rug pull":
// the server changed the description or schema after review) is hidden and refused until it is
// pinned again. Tools without a pin follow the file's `unpinned` mode.

import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { canonicalJson } from '../../core/canonical-json.js';
import { formatIssues } from '../../core/request.js';

/** The pin file's name in the policy directory (unless a path is configured). */
export const PIN_FILE = 'mcp-pins.json';

const attributes = z.strictObject({
  readOnly: z.boolean(),
  destructive: z.boolean(),
  irreversible: z.boolean(),
  idempotent: z.boolean(),
  openWorld: z.boolean(),
});
export type ToolAttributes = z.infer<typeof attributes>;

/**
 * What an unpinned tool gets. `cautious` (default): listed and decided, with the cautious
 * attributes (not read-only, destructive, irreversible, open world) whatever the server claims.
 * `annotations`: the server's annotations become the attributes (trusting the server).
 * `refuse`: hidden and refused until pinned.
 */
export const UNPINNED_MODES = ['cautious', 'annotations', 'refuse'] as const;
export type UnpinnedMode = (typeof UNPINNED_MODES)[number];

const pinFile = z.strictObject({
  version: z.literal(1),
  unpinned: z.enum(UNPINNED_MODES).optional(),
  tools: z.record(
    z.string(),
    z.strictObject({ digest: z.string().regex(/^sha256:[0-9a-f]{64}$/), attributes }),
  ),
});
export type PinFile = z.infer<typeof pinFile>;

export class PinError extends Error {}

export const CAUTIOUS: ToolAttributes = {
  readOnly: false,
  destructive: true,
  irreversible: true,
  idempotent: false,
  openWorld: true,
};

/** MCP's defaults for absent annotations are the cautious ones: not read-only, destructive. */
export function annotationAttributes(t: Tool): ToolAttributes {
  const a = t.annotations ?? {};
  const readOnly = a.readOnlyHint ?? false;
  const destructive = readOnly ? false : (a.destructiveHint ?? true);
  return {
    readOnly,
    destructive,
    irreversible: destructive,
    idempotent: a.idempotentHint ?? false,
    openWorld: a.openWorldHint ?? true,
  };
}

/** The digest of everything about a tool that the agent reads or the server claims. */
export function toolDigest(t: Tool): string {
  const definition = {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: t.inputSchema,
    outputSchema: t.outputSchema,
    annotations: t.annotations,
  };
  const text = canonicalJson(JSON.parse(JSON.stringify(definition)));
  if (text === undefined) throw new PinError(`tool ${t.name}: definition is not JSON`);
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** How the gateway may present one tool: with these attributes, or not at all (and why). */
export type PinVerdict =
  { ok: true; attributes: ToolAttributes; pinned: boolean } | { ok: false; reason: string };

export class ToolPins {
  constructor(
    readonly file: PinFile = { version: 1, tools: {} },
    readonly path?: string,
  ) {}

  get unpinned(): UnpinnedMode {
    return this.file.unpinned ?? 'cautious';
  }

  /** The pins at `path`; a missing file is no pins (every tool unpinned, `cautious`). */
  static async load(path: string): Promise<ToolPins> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new ToolPins(undefined, path);
      throw new PinError(`${path}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new PinError(`${path}: not JSON: ${(e as Error).message}`);
    }
    const r = pinFile.safeParse(json);
    if (!r.success) throw new PinError(`${path}: ${formatIssues(r.error)}`);
    return new ToolPins(r.data, path);
  }

  static pathFor(policies: string, configured?: string): string {
    return configured ?? join(policies, PIN_FILE);
  }

  verdict(server: string, tool: Tool): PinVerdict {
    const id = `${server}/${tool.name}`;
    const pin = this.file.tools[id];
    if (pin) {
      const digest = toolDigest(tool);
      if (digest !== pin.digest)
        return {
          ok: false,
          reason: `the definition of ${id} changed since it was pinned (pinned ${pin.digest.slice(0, 19)}…, now ${digest.slice(0, 19)}…): it stays refused until an operator reviews it and pins it again (cordon mcp pin)`,
        };
      return { ok: true, attributes: pin.attributes, pinned: true };
    }
    switch (this.unpinned) {
      case 'refuse':
        return {
          ok: false,
          reason: `${id} is not pinned, and unpinned tools are refused: review it and pin it (cordon mcp pin)`,
        };
      case 'annotations':
        return { ok: true, attributes: annotationAttributes(tool), pinned: false };
      default:
        return { ok: true, attributes: CAUTIOUS, pinned: false };
    }
  }

  /**
   * The pins with these tools' current definitions. A tool already pinned keeps the
   * operator's attributes; a new one starts from the cautious attributes, or from the
   * server's annotations when `seedFromAnnotations` (to be reviewed in the file).
   */
  repinned(server: string, tools: Tool[], seedFromAnnotations: boolean): PinFile {
    const out: PinFile = { ...this.file, tools: { ...this.file.tools } };
    for (const t of tools) {
      const id = `${server}/${t.name}`;
      const prior = out.tools[id];
      out.tools[id] = {
        digest: toolDigest(t),
        attributes:
          prior?.attributes ?? (seedFromAnnotations ? annotationAttributes(t) : { ...CAUTIOUS }),
      };
    }
    out.tools = Object.fromEntries(Object.entries(out.tools).sort(([a], [b]) => (a < b ? -1 : 1)));
    return out;
  }
}

/** Writes a pin file whole (a reader never sees half of it). */
export async function writePins(path: string, file: PinFile): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`);
  await rename(tmp, path);
}
