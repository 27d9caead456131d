// The HTTP gateway's guards against misuse of the transport, tried as an attacker would: a
// DNS-rebound page (foreign Host and Origin), one principal opening sessions without end, and a
// client that reuses the JSON-RPC id of a request still running.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { tempDir } from '../../testing/fixtures.js';
import {
  EVERYTHING_SERVER,
  issueToken,
  mcpPolicyDir,
  startHttpGateway,
} from '../../testing/mcp.js';

const node = process.execPath;
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
};

describe('MCP gateway over HTTP: transport guards', () => {
  let gw: { url: string; stop(): void };
  let data: string;
  const clients: Client[] = [];
  // Issued up front: issuing blocks this process for a while, and a keep-alive socket the
  // gateway closes meanwhile would fail the next request for a reason unrelated to the test.
  const tokens: Record<string, string> = {};
  before(async () => {
    const dir = await mcpPolicyDir(
      'permit (principal, action == Action::"invokeTool", resource in McpServer::"everything");',
    );
    data = await tempDir('cordon-mcp-data-');
    gw = await startHttpGateway({
      policies: dir,
      data,
      name: 'everything',
      args: ['--max-sessions', '2', '--', node, EVERYTHING_SERVER, 'stdio'],
    });
    for (const user of ['alice', 'bob', 'carol', 'dana'])
      tokens[user] = issueToken(data, user, 'coding-agent');
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    gw?.stop();
  });

  const post = (headers: Record<string, string>, body: unknown) =>
    request(gw.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });

  /** The JSON-RPC messages of a response, JSON or SSE. */
  async function messages(r: Awaited<ReturnType<typeof post>>): Promise<unknown[]> {
    const text = await r.body.text();
    if (!String(r.headers['content-type']).includes('event-stream')) return [JSON.parse(text)];
    return text
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.length > 6)
      .map((l) => JSON.parse(l.slice(6)) as unknown);
  }

  it('refuses a DNS-rebound request (foreign Host or Origin) before anything else, and serves loopback names', async () => {
    const token = tokens.alice!;
    const auth = { authorization: `Bearer ${token}` };
    const port = new URL(gw.url).port;
    for (const headers of <Record<string, string>[]>[
      { host: 'evil.example.com', origin: 'http://evil.example.com' },
      { host: `evil.example.com:${port}` },
      { host: `127.0.0.1:${port}`, origin: 'http://evil.example.com' },
      { host: `127.0.0.1@evil.example.com:${port}` },
    ]) {
      const r = await post({ ...auth, ...headers }, INIT);
      assert.equal(r.statusCode, 403, JSON.stringify(headers));
      assert.match(((await r.body.json()) as { error: string }).error, /not|allowed/);
    }
    // Refused even without a token: the check comes first, so a rebound page learns nothing.
    const anonymous = await post({ host: 'evil.example.com' }, INIT);
    assert.equal(anonymous.statusCode, 403);
    await anonymous.body.dump();
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`]) {
      const r = await post({ ...auth, host, origin: `http://${host}` }, INIT);
      assert.equal(r.statusCode, 200, host);
      await r.body.dump();
      // Close what was opened: the principal's session count is tested below.
      await request(gw.url, {
        method: 'DELETE',
        headers: { ...auth, 'mcp-session-id': String(r.headers['mcp-session-id']) },
      }).then((d) => d.body.dump());
    }
  });

  it("caps one principal's sessions; closing one frees its place; others are not affected", async () => {
    const token = tokens.bob!;
    const connect = async (t: string) => {
      const client = new Client({ name: 'http-agent', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(gw.url), {
        requestInit: { headers: { authorization: `Bearer ${t}` } },
      });
      await client.connect(transport);
      clients.push(client);
      return { client, transport };
    };
    const first = await connect(token);
    await connect(token);
    await assert.rejects(connect(token), /429|limit/);
    // Another principal has its own allowance.
    await connect(tokens.carol!);
    await first.transport.terminateSession();
    await first.client.close();
    const again = await connect(token);
    assert.ok((await again.client.listTools()).tools.length > 0);
  });

  it('answers a request that reuses the id of one in flight with an error, and the first one completes', async () => {
    const token = tokens.dana!;
    const auth = { authorization: `Bearer ${token}` };
    const init = await post(auth, INIT);
    const session = String(init.headers['mcp-session-id']);
    await messages(init);
    const headers = { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    await post(headers, { jsonrpc: '2.0', method: 'notifications/initialized' }).then((r) =>
      r.body.dump(),
    );
    const slow = {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } },
    };
    const firstCall = post(headers, slow);
    // The first request is in flight once the gateway has answered its POST with a stream.
    const first = await firstCall;
    const reuse = await post(headers, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
    });
    assert.equal(reuse.statusCode, 409);
    const err = (await reuse.body.json()) as {
      id: number;
      error: { code: number; message: string };
    };
    assert.equal(err.id, 7);
    assert.equal(err.error.code, -32600);
    assert.match(err.error.message, /already in use/);
    const answers = (await messages(first)) as { id?: number; result?: { content: unknown[] } }[];
    const answer = answers.find((m) => m.id === 7);
    assert.ok(answer?.result, 'the first request gets its own result');
    assert.match(JSON.stringify(answer.result), /Long running operation completed/);
    // Once answered, the id may be used again.
    const later = await post(headers, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
    });
    assert.equal(later.statusCode, 200);
    assert.match(JSON.stringify(await messages(later)), /3/);
  });
});
