// The demo organization's MCP servers for `cordon demo` (examples/policies/entities.json lists
// their tools): `postgres` (query, drop_table), `erp` (read_ledger, wire_transfer), `hr-db`
// (read_salaries) and `faq-kb` (search), one per process on stdio, chosen by the first argument.
// Nothing here touches a real database or bank: each tool answers with canned data, or says
// what it would have done, so what the demo shows is what Cordon let through.

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, openWorldHint: false };

const servers: Record<string, (s: McpServer) => void> = {
  postgres(s) {
    s.registerTool(
      'query',
      {
        description: 'Runs a read-only SQL query on the production database',
        inputSchema: { sql: z.string() },
        annotations: READ_ONLY,
      },
      ({ sql }) => text(`${sql}: 3 rows (id, email, created_at)`),
    );
    s.registerTool(
      'drop_table',
      {
        description: 'Drops a table of the production database',
        inputSchema: { table: z.string() },
        annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      },
      ({ table }) => text(`dropped table ${table}`),
    );
  },
  erp(s) {
    s.registerTool(
      'read_ledger',
      {
        description: 'Reads the general ledger for a period',
        inputSchema: { period: z.string() },
        annotations: READ_ONLY,
      },
      ({ period }) => text(`ledger ${period}: revenue 1,204,000; costs 877,500`),
    );
    s.registerTool(
      'wire_transfer',
      {
        description: 'Sends a wire transfer',
        inputSchema: { to: z.string(), amount: z.number() },
        annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: true },
      },
      ({ to, amount }) => text(`would wire ${amount} to ${to}`),
    );
  },
  'hr-db'(s) {
    s.registerTool(
      'read_salaries',
      {
        description: "Reads employees' salaries",
        inputSchema: { team: z.string() },
        annotations: READ_ONLY,
      },
      ({ team }) => text(`salaries of ${team}: 3 rows`),
    );
  },
  'faq-kb'(s) {
    s.registerTool(
      'search',
      {
        description: 'Searches the public FAQ',
        inputSchema: { q: z.string() },
        annotations: READ_ONLY,
      },
      ({ q }) => text(`FAQ for "${q}": reset your password from the sign-in page.`),
    );
  },
};

const name = process.argv[2] ?? '';
const define = servers[name];
if (!define) {
  process.stderr.write(
    `org-server: unknown server "${name}" (${Object.keys(servers).join(', ')})\n`,
  );
  process.exit(2);
}
const server = new McpServer({ name, version: '1.0.0' });
define(server);
await server.connect(new StdioServerTransport());
