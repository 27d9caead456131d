// An MCP server that enforces Cordon itself, with no gateway in front (docs/sdk/mcp-server.md).
// The ERP server's three tools: reading the ledger is allowed for `ledger-bot`, a wire transfer
// waits for a person's approval, deleting a vendor is denied. A refused call is a tool result
// with isError and the reason, which the client's model reads. Speaks MCP over stdio:
//
//   npx tsx examples/sdk/mcp-server.ts          (as the command of any MCP client's config)

import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { openEmbedded } from 'cordon/sdk';
import { cordonMcpServer } from 'cordon/sdk/mcp';

const cordon = await openEmbedded({
  policies: fileURLToPath(new URL('../policies', import.meta.url)),
  data: process.env.CORDON_DATA ?? '.cordon-example',
});

const server = new McpServer({ name: 'erp', version: '1.0.0' });
// Before any tool is registered. Over Streamable HTTP, `identity` can read the caller from
// extra.authInfo (the bearer token your transport verified); over stdio the agent is fixed.
cordonMcpServer(server, cordon, { server: 'erp', agent: process.env.AGENT ?? 'ledger-bot' });

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
server.registerTool(
  'read_ledger',
  { description: 'Read the ledger of an account', inputSchema: { account: z.string() } },
  async ({ account }) => text(`ledger ${account}: balance 1200 EUR`),
);
server.registerTool(
  'wire_transfer',
  { description: 'Wire money to a payee', inputSchema: { to: z.string(), amountEur: z.number() } },
  async ({ to, amountEur }) => text(`sent ${amountEur} EUR to ${to}`),
);
server.registerTool(
  'delete_vendor',
  { description: 'Delete a vendor from the ERP', inputSchema: { vendor: z.string() } },
  async ({ vendor }) => text(`deleted ${vendor}`),
);

const transport = new StdioServerTransport();
transport.onclose = () => void cordon.close();
await server.connect(transport);
