// cordon/sdk/mcp with the real MCP TypeScript SDK: an McpServer (and a low-level Server) guarded
// in-process, called by the official MCP Client over the SDK's in-memory transport.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  AGENT,
  brokenDecider,
  erpFunctions,
  exampleDecider,
  LEDGER,
  SERVER,
  type Ran,
} from '../../testing/agent-tools.js';
import type { Decider } from '../guard.js';
import { cordonMcpServer, DECISION_META, type McpServerGuardOptions } from './mcp.js';

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

/** The ERP server: three tools, each recording its runs. */
function erpServer(ran: Ran[], guard?: { decider: Decider; options: McpServerGuardOptions }) {
  const server = new McpServer({ name: 'erp', version: '1.0.0' });
  if (guard) cordonMcpServer(server, guard.decider, guard.options);
  const f = erpFunctions(ran);
  const reply = async (p: Promise<string>) => ({
    content: [{ type: 'text' as const, text: await p }],
  });
  server.registerTool(
    'read_ledger',
    { inputSchema: { account: z.string() }, annotations: { readOnlyHint: true } },
    (args) => reply(f.read_ledger(args)),
  );
  server.registerTool(
    'wire_transfer',
    { inputSchema: { to: z.string(), amountEur: z.number() } },
    (args) => reply(f.wire_transfer(args)),
  );
  server.registerTool('delete_vendor', { inputSchema: { vendor: z.string() } }, (args) =>
    reply(f.delete_vendor(args)),
  );
  return server;
}

async function connect(server: McpServer | Server, authToken?: string) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  if (authToken) {
    // What a transport's bearer-auth middleware hands the server with each request.
    const send = clientSide.send.bind(clientSide);
    clientSide.send = (message, o) =>
      send(message, { ...o, authInfo: { token: authToken, clientId: 'agent', scopes: [] } });
  }
  await server.connect(serverSide);
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

describe('cordon/sdk/mcp (MCP TypeScript SDK server)', () => {
  it('runs an allowed call and refuses a denied one with an isError result that carries the decision', async () => {
    const ran: Ran[] = [];
    const decider = await exampleDecider();
    const client = await connect(
      erpServer(ran, { decider, options: { server: SERVER, agent: AGENT } }),
    );
    const ok = await call(client, 'read_ledger', { account: '4711' });
    assert.equal(ok.isError, undefined);
    assert.equal(text(ok), LEDGER);
    const req = decider.asked.at(-1)!;
    assert.equal(req.action, 'invokeTool');
    assert.equal(req.resource.id, 'erp/read_ledger');
    assert.deepEqual(req.input, { account: '4711' });

    const no = await call(client, 'delete_vendor', { vendor: 'ACME' });
    assert.equal(no.isError, true);
    assert.match(text(no), /^Cordon denied invokeTool on Tool::"erp\/delete_vendor" \(decision /);
    const meta = no._meta?.[DECISION_META] as { id: string; decision: string; code: string };
    assert.equal(meta.decision, 'deny');
    assert.equal(meta.code, 'CORDON_DENIED');
    assert.ok(meta.id);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['read_ledger'],
    );
    await client.close();
  });

  it('reports require_approval as an isError result that says a person must approve', async () => {
    const ran: Ran[] = [];
    const client = await connect(
      erpServer(ran, {
        decider: await exampleDecider(),
        options: { server: SERVER, agent: AGENT },
      }),
    );
    const r = await call(client, 'wire_transfer', { to: 'ACME', amountEur: 5000 });
    assert.equal(r.isError, true);
    assert.match(text(r), /needs a human's approval/);
    assert.equal((r._meta?.[DECISION_META] as { decision: string }).decision, 'require_approval');
    assert.deepEqual(ran, []);
    await client.close();
  });

  it('without Cordon the same server runs the denied call (the scenario needs Cordon)', async () => {
    const ran: Ran[] = [];
    const client = await connect(erpServer(ran));
    const r = await call(client, 'delete_vendor', { vendor: 'ACME' });
    assert.equal(text(r), 'deleted ACME');
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['delete_vendor'],
    );
    await client.close();
  });

  it('refuses every call when the decision point cannot answer', async () => {
    const ran: Ran[] = [];
    const client = await connect(
      erpServer(ran, { decider: brokenDecider, options: { server: SERVER, agent: AGENT } }),
    );
    const r = await call(client, 'read_ledger', { account: '4711' });
    assert.equal(r.isError, true);
    assert.match(text(r), /Cordon could not decide .*ECONNREFUSED/);
    assert.deepEqual(ran, []);
    await client.close();
  });

  it('guards a low-level Server whose own handler serves tools/call', async () => {
    const ran: string[] = [];
    const server = new Server({ name: 'erp', version: '1.0.0' }, { capabilities: { tools: {} } });
    cordonMcpServer(server, await exampleDecider(), { server: SERVER, agent: AGENT });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
    server.setRequestHandler(CallToolRequestSchema, (req) => {
      ran.push(req.params.name);
      return { content: [{ type: 'text', text: 'done' }] };
    });
    const client = await connect(server);
    assert.equal(text(await call(client, 'read_ledger', { account: '1' })), 'done');
    const r = await call(client, 'delete_vendor', { vendor: 'ACME' });
    assert.equal(r.isError, true);
    assert.deepEqual(ran, ['read_ledger']);
    await client.close();
  });

  it('takes who calls from each request (the bearer token the transport verified)', async () => {
    const ran: Ran[] = [];
    const decider = await exampleDecider();
    const client = await connect(
      erpServer(ran, {
        decider,
        options: {
          server: SERVER,
          agent: 'someone-else',
          identity: (extra) => ({ agent: extra.authInfo?.clientId === 'agent' ? AGENT : 'nobody' }),
        },
      }),
      'opaque-token',
    );
    assert.equal(text(await call(client, 'read_ledger', { account: '4711' })), LEDGER);
    assert.equal(decider.asked.at(-1)!.agent, AGENT);
    await client.close();
  });

  it('refuses the call when telling who calls fails', async () => {
    const ran: Ran[] = [];
    const client = await connect(
      erpServer(ran, {
        decider: await exampleDecider(),
        options: {
          server: SERVER,
          identity: () => {
            throw new Error('no bearer token');
          },
        },
      }),
    );
    const r = await call(client, 'read_ledger', { account: '4711' });
    assert.equal(r.isError, true);
    assert.match(text(r), /could not tell who calls read_ledger: no bearer token/);
    assert.deepEqual(ran, []);
    await client.close();
  });

  it('will not start after a tool was registered, nor twice', async () => {
    const server = new McpServer({ name: 'erp', version: '1.0.0' });
    server.registerTool('read_ledger', {}, () => ({ content: [] }));
    const decider = await exampleDecider();
    assert.throws(
      () => cordonMcpServer(server, decider, { server: SERVER }),
      /already handles tools\/call .*apply Cordon before registering tools/,
    );
    const fresh = new McpServer({ name: 'erp', version: '1.0.0' });
    cordonMcpServer(fresh, decider, { server: SERVER });
    assert.throws(() => cordonMcpServer(fresh, decider, { server: SERVER }), /already guarded/);
  });
});
