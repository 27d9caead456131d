// `cordon mcp pin`: connects to the MCP servers, and writes the pin file with each tool's
// current definition digest, after the operator has reviewed them. It prints what changed
// (new tools, changed definitions, definitions that read as prompt injection) so the review
// has something to look at. Attributes already pinned are kept; new tools start cautious.

import type { Command } from 'commander';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { UnpinnedMode } from '../pep/mcp/pins.js';
import type { DownstreamLink, UpstreamSpec } from '../pep/mcp/upstream.js';

/** Loaded when the command runs (the command tree loads no subsystem). */
const lib = () => import('./mcp-lib.js');
const UNPINNED_MODES: readonly UnpinnedMode[] = ['cautious', 'annotations', 'refuse'];

interface PinOptions {
  policies: string;
  pins?: string;
  name?: string;
  config?: string;
  url?: string;
  tool: string[];
  seedAnnotations?: boolean;
  unpinned?: string;
}

/** A downstream that offers nothing: pinning only lists tools. */
const NO_CLIENT: DownstreamLink = {
  capabilities: () => ({}),
  createMessage: () => Promise.reject(new Error('not offered')),
  elicit: () => Promise.reject(new Error('not offered')),
  listRoots: () => Promise.reject(new Error('not offered')),
  notify: () => {},
  resourceUpdated: () => {},
  catalogChanged: () => {},
};

export function registerMcpPinCommand(
  mcp: Command,
  upstreamsOf: (o: PinOptions, command: string[]) => Promise<UpstreamSpec[]>,
  fail: (message: string) => Error,
): void {
  mcp
    .command('pin')
    .description(
      "pin MCP tools after review: each tool's definition digest and the attributes policies see",
    )
    .requiredOption('--policies <dir>', 'policy directory (the pin file lives there by default)')
    .option('--pins <file>', 'the pin file (default: POLICIES/mcp-pins.json)')
    .option('--name <name>', 'server name for a single upstream')
    .option('--config <file>', 'an mcpServers file: pin every server in it')
    .option('--url <url>', 'one Streamable HTTP upstream')
    .option(
      '--tool <server/tool>',
      'pin only this tool (repeatable; default: every tool)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--seed-annotations', "new tools start from the server's annotations, to review")
    .option('--unpinned <mode>', `what unpinned tools get: ${UNPINNED_MODES.join(', ')}`)
    .argument('[command...]', 'a stdio upstream after --')
    .action(async (command: string[], o: PinOptions) => {
      const { descriptionRefusal, ToolPins, Upstream, writePins } = await lib();
      if (o.unpinned && !UNPINNED_MODES.includes(o.unpinned as UnpinnedMode))
        throw fail(`--unpinned ${o.unpinned}: one of ${UNPINNED_MODES.join(', ')}`);
      const path = ToolPins.pathFor(o.policies, o.pins);
      let pins = await ToolPins.load(path);
      const specs = await upstreamsOf(o, command);
      const seen = new Set<string>();
      for (const spec of specs) {
        const up = await Upstream.connect(spec, NO_CLIENT);
        let tools: Tool[];
        try {
          tools = up.tools.filter(
            (t) => o.tool.length === 0 || o.tool.includes(`${spec.name}/${t.name}`),
          );
        } finally {
          await up.close();
        }
        for (const t of tools) {
          const id = `${spec.name}/${t.name}`;
          seen.add(id);
          const before = pins.verdict(spec.name, t);
          const state = pins.file.tools[id]
            ? before.ok
              ? 'unchanged'
              : 'changed: definition differs from its pin'
            : 'new';
          const injected = descriptionRefusal(spec.name, t);
          process.stdout.write(
            `${id}: ${state}${injected ? `\n  warning: ${injected}` : ''}\n  description: ${JSON.stringify(t.description ?? '')}\n`,
          );
        }
        pins = new ToolPins(pins.repinned(spec.name, tools, !!o.seedAnnotations), path);
      }
      for (const id of o.tool)
        if (!seen.has(id)) throw fail(`--tool ${id}: no such tool on the servers given`);
      const file = o.unpinned ? { ...pins.file, unpinned: o.unpinned as UnpinnedMode } : pins.file;
      await writePins(path, file);
      process.stdout.write(
        `wrote ${path}: ${Object.keys(file.tools).length} pinned tools; review their attributes there\n`,
      );
    });
}
