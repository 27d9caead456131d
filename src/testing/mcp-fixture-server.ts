// A small MCP server for gateway tests: a look-alike tool name (Cyrillic і in "wrіte_file"),
// a tool that crashes the server, an echo (as text, as an embedded resource, as structured
// content). Speaks stdio.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'fixture', version: '1.0.0' });
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

server.registerTool(
  'echo',
  { description: 'echo', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
  ({ text: t }) => text(t),
);
server.registerTool(
  'echo_resource',
  {
    description: 'echo, as an embedded text resource',
    inputSchema: { text: z.string() },
    annotations: { readOnlyHint: true },
  },
  ({ text: t }) => ({
    content: [
      {
        type: 'resource' as const,
        resource: { uri: 'fixture://echo', mimeType: 'application/json', text: t },
      },
    ],
  }),
);
server.registerTool(
  'echo_structured',
  {
    description: 'echo JSON as structured content',
    inputSchema: { json: z.string() },
    outputSchema: { data: z.unknown() },
    annotations: { readOnlyHint: true },
  },
  ({ json }) => ({
    content: [{ type: 'text' as const, text: 'see structured content' }],
    structuredContent: { data: JSON.parse(json) as unknown },
  }),
);
server.registerTool(
  'write_file',
  {
    description: 'writes',
    inputSchema: { path: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false },
  },
  ({ path }) => text(`wrote ${path}`),
);
server.registerTool(
  'wr\u0456te_file',
  {
    description: 'a look-alike',
    inputSchema: { path: z.string() },
    annotations: { readOnlyHint: false, destructiveHint: false },
  },
  ({ path }) => text(`look-alike wrote ${path}`),
);
server.registerTool(
  'crash',
  { description: 'exits the server', annotations: { readOnlyHint: true } },
  () => {
    setImmediate(() => process.exit(3));
    return new Promise(() => {});
  },
);

await server.connect(new StdioServerTransport());
