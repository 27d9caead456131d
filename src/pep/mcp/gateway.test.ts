// The MCP gateway with real things: the official SDK client as the agent, the reference
// filesystem and everything servers from npm (and a small fixture server) behind it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { AUDIT_DB, AuditLog } from '../../audit/log.js';
import { SqliteAuditStore } from '../../audit/sqlite-store.js';
import { tempDir } from '../../testing/fixtures.js';
import { freePort, waitForHttp } from '../../testing/net.js';
import { adminHeader } from '../../testing/auth.js';
import {
  CORDON_CLI,
  EVERYTHING_SERVER,
  inProcessGateway,
  issueToken,
  mcpDecisions,
  mcpPolicyDir,
  rawGateway,
  startHttpGateway,
} from '../../testing/mcp.js';

const require = createRequire(import.meta.url);
const CLI = CORDON_CLI;
const FIXTURE = fileURLToPath(new URL('../../testing/mcp-fixture-server.js', import.meta.url));
const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');
const EVERYTHING = EVERYTHING_SERVER;
const node = process.execPath;

const clients: Client[] = [];
after(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

/** In-process decisions where coding-agent may call every tool, recorded in `log` if given. */
const codingAgentMayCallTools = (log?: AuditLog) =>
  mcpDecisions(
    'permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource);',
    log,
  );

const policies = mcpPolicyDir;

async function gateway(o: {
  policies: string;
  data?: string;
  agent?: string;
  name: string;
  upstream: string[];
  capabilities?: Record<string, unknown>;
  extra?: string[];
}) {
  const data = o.data ?? (await tempDir('cordon-mcp-data-'));
  const transport = new StdioClientTransport({
    command: node,
    args: [
      CLI,
      'mcp',
      'serve',
      '--policies',
      o.policies,
      '--data',
      data,
      '--agent',
      o.agent ?? 'coding-agent',
      '--name',
      o.name,
      '--log-level',
      'warn',
      ...(o.extra ?? []),
      '--',
      ...o.upstream,
    ],
    stderr: 'ignore',
  });
  const client = new Client(
    { name: 'test-agent', version: '1.0.0' },
    { capabilities: o.capabilities ?? {} },
  );
  clients.push(client);
  await client.connect(transport);
  return { client, data };
}

const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe('MCP gateway over stdio: the filesystem server', async () => {
  const root = await tempDir('cordon-mcp-fs-');
  const ws = join(root, 'ws');
  await mkdir(ws);
  await mkdir(join(root, 'other'));
  await writeFile(join(ws, 'a.txt'), 'hello');
  const dir = await policies(`
    @id("agent-fs") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"fs");
    @id("writes-in-ws") forbid (principal, action == Action::"invokeTool", resource in McpServer::"fs")
    when { !resource.readOnly && context has input }
    unless { context.pathsAllIn.contains("${ws}") };`);
  const fsUpstream = [node, FILESYSTEM, root];

  it('lists only what the agent may call, and refuses a denied tool called by name anyway', async () => {
    const { client } = await gateway({ policies: dir, name: 'fs', upstream: fsUpstream });
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('write_file') && names.includes('read_text_file'), names.join(','));

    const { client: intruder } = await gateway({
      policies: dir,
      name: 'fs',
      upstream: fsUpstream,
      agent: 'intruder',
    });
    assert.deepEqual((await intruder.listTools()).tools, []);
    const r = (await intruder.callTool({
      name: 'read_text_file',
      arguments: { path: join(ws, 'a.txt') },
    })) as CallToolResult;
    assert.equal(r.isError, true);
    assert.match(
      text(r),
      /^Cordon denied read_text_file \(decision [0-9a-f-]{36}\): cordon\/default-deny/,
    );
    await assert.rejects(
      intruder.callTool({ name: 'no_such_tool', arguments: {} }),
      /Unknown tool: no_such_tool/,
    );
  });

  it('keeps writes in the allowed directory: .. segments and repeated slashes do not get out', async () => {
    const { client, data } = await gateway({ policies: dir, name: 'fs', upstream: fsUpstream });
    assert.equal(
      text(
        await client.callTool({ name: 'read_text_file', arguments: { path: join(ws, 'a.txt') } }),
      ),
      'hello',
    );
    const ok = (await client.callTool({
      name: 'write_file',
      arguments: { path: `${ws}/./sub/../b.txt`, content: 'in' },
    })) as CallToolResult;
    assert.notEqual(ok.isError, true, text(ok));
    assert.equal(await readFile(join(ws, 'b.txt'), 'utf8'), 'in');

    for (const path of [
      join(root, 'other', 'x.txt'),
      `${ws}/../other/y.txt`,
      `${ws}//..//other/z.txt`,
      `${root}/ws/../../${root.split('/').pop()}/other/w.txt`,
    ]) {
      const r = (await client.callTool({
        name: 'write_file',
        arguments: { path, content: 'out' },
      })) as CallToolResult;
      assert.equal(r.isError, true, path);
      assert.match(text(r), /Cordon denied write_file .*writes-in-ws/);
    }
    const moved = (await client.callTool({
      name: 'move_file',
      arguments: { source: join(ws, 'b.txt'), destination: `${ws}/../other/b.txt` },
    })) as CallToolResult;
    assert.equal(moved.isError, true);
    assert.deepEqual(
      ['x.txt', 'y.txt', 'z.txt', 'w.txt', 'b.txt'].filter((f) =>
        existsSync(join(root, 'other', f)),
      ),
      [],
      'nothing was written outside',
    );
    await client.close();
    await new Promise((r) => setTimeout(r, 300));
    const store = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
    const records = store.query({}).map(
      (r) =>
        JSON.parse(r.record) as {
          pep: string;
          action: string;
          decision: string;
          resource: { id: string };
        },
    );
    store.close();
    assert.ok(records.every((r) => r.pep === 'mcp'));
    assert.ok(
      records.some((r) => r.resource.id === 'fs/write_file' && r.decision === 'deny'),
      'every decision is in the log',
    );
  });
});

describe('MCP gateway: a rule on the paths a call touches cannot be dodged', async () => {
  const root = await tempDir('cordon-mcp-paths-');
  const ws = join(root, 'ws');
  await mkdir(ws);
  await mkdir(join(root, 'other'));
  await writeFile(join(ws, 'a.txt'), 'in');
  await writeFile(join(root, 'other', 'secret.txt'), 'outside');
  const dir = await policies(`
    @id("agent-fs") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"fs");
    @id("every-path-in-ws") forbid (principal, action == Action::"invokeTool", resource in McpServer::"fs")
    when { context has input } unless { context.pathsAllIn.contains("${ws}") };`);
  const fs = () => gateway({ policies: dir, name: 'fs', upstream: [node, FILESYSTEM, root] });

  it('a decoy path inside does not cover the source and destination the server acts on', async () => {
    const { client } = await fs();
    const decoy = (await client.callTool({
      name: 'move_file',
      arguments: {
        path: join(ws, 'a.txt'),
        source: join(ws, 'a.txt'),
        destination: join(root, 'other', 'a.txt'),
      },
    })) as CallToolResult;
    assert.equal(decoy.isError, true, text(decoy));
    assert.match(text(decoy), /Cordon denied move_file .*every-path-in-ws/);
    assert.ok(existsSync(join(ws, 'a.txt')) && !existsSync(join(root, 'other', 'a.txt')));
    const inside = (await client.callTool({
      name: 'move_file',
      arguments: { source: join(ws, 'a.txt'), destination: join(ws, 'b.txt') },
    })) as CallToolResult;
    assert.notEqual(inside.isError, true, text(inside));
    assert.ok(existsSync(join(ws, 'b.txt')));
  });

  it('read_multiple_files with one path outside is refused, every path inside is read', async () => {
    const { client } = await fs();
    const r = (await client.callTool({
      name: 'read_multiple_files',
      arguments: { paths: [join(ws, 'b.txt'), `${ws}/../other/secret.txt`] },
    })) as CallToolResult;
    assert.equal(r.isError, true);
    assert.doesNotMatch(text(r), /outside/);
    const ok = (await client.callTool({
      name: 'read_multiple_files',
      arguments: { paths: [join(ws, 'b.txt')] },
    })) as CallToolResult;
    assert.notEqual(ok.isError, true, text(ok));
    assert.match(text(ok), /b\.txt:\s*in/);
  });

  it('a relative path is placed where the server resolves it', async () => {
    const { client } = await fs();
    const r = (await client.callTool({
      name: 'read_text_file',
      arguments: { path: '../../../../../../../../etc/hostname' },
    })) as CallToolResult;
    assert.equal(r.isError, true);
    assert.match(text(r), /Cordon denied read_text_file/);
  });
});

describe('MCP gateway over stdio: names, crashes, malformed input', async () => {
  const dir = await policies(`
    @id("fixture-tools") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource)
    when { resource == Tool::"fixture/write_file" || resource == Tool::"fixture/echo" || resource == Tool::"fixture/crash" };`);

  it('look-alike names do not inherit permissions', async () => {
    const { client } = await gateway({ policies: dir, name: 'fixture', upstream: [node, FIXTURE] });
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['crash', 'echo', 'write_file']);
    const lookalike = (await client.callTool({
      name: 'wr\u0456te_file',
      arguments: { path: '/x' },
    })) as CallToolResult;
    assert.equal(lookalike.isError, true);
    assert.match(text(lookalike), /Cordon denied/);
    await assert.rejects(
      client.callTool({ name: 'Write_File', arguments: { path: '/x' } }),
      /Unknown tool/,
    );
    assert.equal(
      text(await client.callTool({ name: 'write_file', arguments: { path: '/x' } })),
      'wrote /x',
    );
  });

  it('an upstream crash is an error for the client, not a hang', async () => {
    const { client } = await gateway({ policies: dir, name: 'fixture', upstream: [node, FIXTURE] });
    const started = Date.now();
    await assert.rejects(
      client.callTool({ name: 'crash', arguments: {} }),
      /Connection closed|not available/,
    );
    await assert.rejects(
      client.callTool({ name: 'echo', arguments: { text: 'x' } }),
      /not available/,
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it('answers malformed JSON-RPC with JSON-RPC errors and keeps the session', async () => {
    const gw = await rawGateway([
      '--policies',
      dir,
      '--agent',
      'coding-agent',
      '--name',
      'fixture',
      '--',
      node,
      FIXTURE,
    ]);
    gw.send('{"jsonrpc": "2.0", "id": 2, "method": ');
    gw.send({ jsonrpc: '2.0', id: 3 });
    gw.send({ jsonrpc: '2.0', id: 4, method: 'no/such/method' });
    gw.send({ jsonrpc: '2.0', id: 5, method: 'tools/list' });
    await gw.until(() => gw.lines.some((r) => r.id === 5));
    gw.kill();
    assert.ok(
      gw.lines.some((r) => r.error?.code === -32700),
      'parse error',
    );
    assert.ok(
      gw.lines.some((r) => r.error?.code === -32600),
      'invalid request',
    );
    assert.equal(gw.lines.find((r) => r.id === 4)?.error?.code, -32601);
    assert.ok(gw.lines.find((r) => r.id === 5)?.result, 'the session survived');
  });
});

describe('MCP gateway: prompts and resources are decided normalized and inspected', async () => {
  const dir = await policies(`
    @id("agent-all") permit (principal == Agent::"coding-agent", action, resource);
    @id("results-redacted") @redact("secrets") permit (principal, action == Action::"readToolResult", resource);
    @id("no-dynamic") forbid (principal, action == Action::"readResource", resource)
    when { resource.uri like "demo://resource/dynamic/*" };`);
  const g = `ghp_${'a1B2c3D4e5'.repeat(3)}f6G7h8`;

  it('prompts/get: a secret in the prompt the server returns is redacted', async () => {
    const { client } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
    });
    const r = await client.getPrompt({ name: 'args-prompt', arguments: { city: `Paris ${g}` } });
    const all = JSON.stringify(r.messages);
    assert.ok(!all.includes(g.slice(4, 20)), all);
    assert.match(all, /REDACTED:GITHUB-PAT/);
  });

  it('resources/read: .. and %2e%2e are resolved before the decision', async () => {
    const { client } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
    });
    await client.listResources();
    for (const uri of [
      'demo://resource/static/document/../../dynamic/text/1',
      'demo://resource/static/document/%2e%2e/%2E%2e/dynamic/text/1',
    ])
      await assert.rejects(
        client.readResource({ uri }),
        /Cordon denied demo:\/\/resource\/dynamic\/text\/1 .*no-dynamic/,
        uri,
      );
    await assert.rejects(
      client.readResource({ uri: 'demo://resource/static/document/..%2f..%2fdynamic/text/1' }),
      /hides a dot segment/,
    );
    const ok = await client.readResource({
      uri: 'demo://resource/static/document/./architecture.md',
    });
    assert.match(JSON.stringify(ok.contents), /architecture/i);
  });

  it('resources/read: a secret in the contents and their URI is redacted', async () => {
    const { client } = await gateway({ policies: dir, name: 'fixture', upstream: [node, FIXTURE] });
    const r = await client.readResource({
      uri: `fixture://echo/${encodeURIComponent(`key ${g}`)}`,
    });
    const all = JSON.stringify(r.contents);
    assert.ok(!all.includes(g.slice(4, 20)), all);
    assert.match(all, /REDACTED:GITHUB-PAT/);
  });

  it('a base64 text file read by the filesystem server (read_media_file) is redacted', async () => {
    const root = await tempDir('cordon-mcp-media-');
    await writeFile(join(root, 'notes.txt'), `deploy key ${g}\n`);
    const { client } = await gateway({
      policies: dir,
      name: 'fs',
      upstream: [node, FILESYSTEM, root],
    });
    const r = (await client.callTool({
      name: 'read_media_file',
      arguments: { path: join(root, 'notes.txt') },
    })) as CallToolResult;
    const blob = (r.content[0] as { resource: { blob: string } }).resource.blob;
    assert.equal(
      Buffer.from(blob, 'base64').toString('utf8'),
      'deploy key [REDACTED:GITHUB-PAT]\n',
    );
  });
});

describe('MCP gateway: the everything server', async () => {
  const dir = await policies(`
    @id("everything-tools") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"everything");
    @id("echo-needs-approval") @outcome("require_approval") forbid (principal, action == Action::"invokeTool", resource == Tool::"everything/echo");
    @id("people-use-everything") permit (principal is User, action == Action::"invokeTool", resource in McpServer::"everything");
    @id("alice-approves-her-own") permit (principal == User::"alice", action == Action::"approve", resource) when { resource has user && resource.user == principal };
    @id("admin-answers") permit (principal in Role::"cordon-admin", action in [Action::"approve", Action::"readApprovals"], resource);
    @id("simple-prompt") permit (principal == Agent::"coding-agent", action == Action::"getPrompt", resource == McpPrompt::"everything/simple-prompt");
    @id("readme-resources") permit (principal == Agent::"coding-agent", action == Action::"readResource", resource) when { resource.uri like "*architecture*" };`);

  const rawEverything = () =>
    rawGateway([
      '--policies',
      dir,
      '--agent',
      'coding-agent',
      '--name',
      'everything',
      '--',
      node,
      EVERYTHING,
      'stdio',
    ]);

  it('passes every progress notification through, before the result', async () => {
    const gw = await rawEverything();
    gw.send({
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: {
        name: 'trigger-long-running-operation',
        arguments: { duration: 1, steps: 3 },
        _meta: { progressToken: 'tok-9' },
      },
    });
    await gw.until(() => gw.lines.some((r) => r.id === 9));
    gw.kill();
    const at = gw.lines.findIndex((r) => r.id === 9);
    assert.ok(at >= 0 && gw.lines[at]!.result, 'the call finished');
    const progress = gw.lines.slice(0, at).filter((r) => r.method === 'notifications/progress');
    assert.deepEqual(
      progress.map((p) => [p.params!.progressToken, p.params!.progress]),
      [
        ['tok-9', 1],
        ['tok-9', 2],
        ['tok-9', 3],
      ],
    );
    assert.ok(
      !gw.lines.slice(at).some((r) => r.method === 'notifications/progress'),
      'no progress after the result',
    );
  });

  it('cancels: once the client cancels, no more progress and no result for that call', async () => {
    const gw = await rawEverything();
    gw.send({
      jsonrpc: '2.0',
      id: 11,
      method: 'tools/call',
      params: {
        name: 'trigger-long-running-operation',
        arguments: { duration: 4, steps: 8 },
        _meta: { progressToken: 'tok-11' },
      },
    });
    await gw.until(() => gw.lines.some((r) => r.method === 'notifications/progress'));
    gw.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 11, reason: 'the user gave up' },
    });
    const seenAtCancel = gw.lines.filter((r) => r.method === 'notifications/progress').length;
    await new Promise((r) => setTimeout(r, 2500));
    gw.send({ jsonrpc: '2.0', id: 12, method: 'tools/list' });
    await gw.until(() => gw.lines.some((r) => r.id === 12));
    gw.kill();
    const progress = gw.lines.filter((r) => r.method === 'notifications/progress').length;
    assert.ok(
      progress <= seenAtCancel + 1,
      `progress kept coming after the cancel: ${progress} vs ${seenAtCancel}`,
    );
    assert.ok(!gw.lines.some((r) => r.id === 11), 'no result for a cancelled call');
    assert.ok(
      gw.lines.some((r) => r.id === 12),
      'the session goes on',
    );
  });

  it("a yes from the agent's own client approves nothing: the call stays gated", async () => {
    // alice may approve her own requests, and the client says yes in her name: still no.
    const api = `http://127.0.0.1:${await freePort()}`;
    const { client, data } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
      capabilities: { elicitation: {} },
      extra: ['--user', 'alice', '--api', api, '--approval-wait', '1s'],
    });
    let asked = 0;
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked++;
      assert.match(req.params.message, /answering here does not approve it/);
      return { action: 'accept', content: { approve: true } };
    });
    const r = (await client.callTool({
      name: 'echo',
      arguments: { message: 'self-approved' },
    })) as CallToolResult;
    assert.equal(asked, 1, 'the client is told that the call waits for an approver');
    assert.equal(r.isError, true, "the client's yes did not run the call");
    assert.match(text(r), /needs a human approval before it runs \(approval id [0-9a-f-]{36}\)/);
    assert.doesNotMatch(text(r), /self-approved/);
    await waitForHttp(`${api}/healthz`);
    const listed = (await (
      await fetch(`${api}/v1/approvals`, { headers: await adminHeader(data) })
    ).json()) as { approvals: { status: string; approver?: string }[] };
    assert.deepEqual(
      listed.approvals.map((a) => [a.status, a.approver]),
      [['pending', undefined]],
      'the request still waits for a real approver',
    );
  });

  it('waits for an approval given out of band (the API beside the gateway), then runs the call', async () => {
    const apiPort = await freePort();
    const api = `http://127.0.0.1:${apiPort}`;
    const { client, data } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
      extra: ['--user', 'alice', '--api', api, '--approval-wait', '20s'],
    });
    await waitForHttp(`${api}/healthz`);
    const admin = await adminHeader(data);
    const approvalsNow = async () =>
      (
        (await (await fetch(`${api}/v1/approvals`, { headers: admin })).json()) as {
          approvals: { id: string; status: string }[];
        }
      ).approvals;
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
    assert.deepEqual(await approvalsNow(), [], 'listing tools opens no approval request');
    const call = client.callTool({ name: 'echo', arguments: { message: 'out of band' } });
    let pending: { id: string }[] = [];
    while (pending.length === 0) {
      await new Promise((r) => setTimeout(r, 100));
      pending = (
        (await (await fetch(`${api}/v1/approvals?status=pending`, { headers: admin })).json()) as {
          approvals: { id: string }[];
        }
      ).approvals;
    }
    const yes = await fetch(`${api}/v1/approvals/${pending[0]!.id}/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({}),
    });
    assert.equal(yes.status, 200);
    assert.match(text(await call), /out of band/);
    assert.deepEqual(
      (await approvalsNow()).map((a) => a.status),
      ['used'],
      'one request, used by the call',
    );
  });

  it("passes the server's own requests (sampling, elicitation) through to the client", async () => {
    const { client } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
      capabilities: { sampling: {}, elicitation: {} },
    });
    const asked: string[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(`sampling: ${JSON.stringify(req.params.messages[0]?.content)}`);
      return {
        model: 'local-test-model',
        role: 'assistant',
        content: { type: 'text', text: 'sampled by the client' },
      };
    });
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(`elicitation: ${req.params.message}`);
      return { action: 'decline' };
    });
    const sampled = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 10 },
    });
    assert.match(JSON.stringify(sampled), /sampled by the client/);
    await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    assert.equal(asked.length, 2, asked.join('\n'));
    assert.match(asked[0]!, /hello/);
  });

  it('without elicitation, require_approval is a pending error with an approval id', async () => {
    const { client } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
    });
    const r = (await client.callTool({
      name: 'echo',
      arguments: { message: 'x' },
    })) as CallToolResult;
    assert.equal(r.isError, true);
    assert.ok((r._meta?.['cordon/decision'] as { approvalId?: string }).approvalId);
  });

  it('filters prompts and resources and decides their reads', async () => {
    const { client } = await gateway({
      policies: dir,
      name: 'everything',
      upstream: [node, EVERYTHING, 'stdio'],
    });
    assert.deepEqual(
      (await client.listPrompts()).prompts.map((p) => p.name),
      ['simple-prompt'],
    );
    assert.ok((await client.getPrompt({ name: 'simple-prompt' })).messages.length > 0);
    await assert.rejects(
      client.getPrompt({ name: 'args-prompt', arguments: { city: 'x' } }),
      /Cordon denied/,
    );
    const resources = (await client.listResources()).resources;
    assert.ok(
      resources.length > 0 && resources.every((r) => r.uri.includes('architecture')),
      resources.map((r) => r.uri).join(','),
    );
    assert.ok((await client.readResource({ uri: resources[0]!.uri })).contents.length > 0);
  });

  it('reaches a Streamable HTTP upstream', async () => {
    const port = await freePort();
    const upstream = spawn(node, [EVERYTHING, 'streamableHttp'], {
      env: { ...process.env, PORT: String(port) },
      stdio: 'ignore',
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/mcp`);
      const data = await tempDir('cordon-mcp-data-');
      const transport = new StdioClientTransport({
        command: node,
        args: [
          CLI,
          'mcp',
          'serve',
          '--policies',
          dir,
          '--data',
          data,
          '--agent',
          'coding-agent',
          '--name',
          'everything',
          '--log-level',
          'warn',
          '--url',
          `http://127.0.0.1:${port}/mcp`,
        ],
        stderr: 'ignore',
      });
      const client = new Client({ name: 'test-agent', version: '1.0.0' });
      clients.push(client);
      await client.connect(transport);
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'get-sum'));
      assert.match(
        text(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } })),
        /5/,
      );
    } finally {
      upstream.kill();
    }
  });
});

describe('MCP gateway over Streamable HTTP', () => {
  it('requires a bearer token, decides for its user and agent, and honours revocation', async () => {
    const dir = await policies(`
      @id("everything-tools") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"everything");
      @id("alice") permit (principal == User::"alice", action == Action::"invokeTool", resource == Tool::"everything/get-sum");`);
    const data = await tempDir('cordon-mcp-data-');
    const gw = await startHttpGateway({
      policies: dir,
      data: data,
      name: 'everything',
      args: ['--session-idle', '2s', '--', node, EVERYTHING, 'stdio'],
    });
    try {
      const { url } = gw;
      const issue = (user: string) => issueToken(data, user, 'coding-agent');
      // Issued before any request: issuing blocks this process, and a keep-alive socket the
      // gateway closes meanwhile would fail the next request.
      const aliceToken = issue('alice');
      const bobToken = issue('bob');
      const noToken = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: '{}',
      });
      assert.equal(noToken.status, 401);
      const garbage = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${aliceToken}` },
        body: '{"jsonrpc":',
      });
      assert.equal(garbage.status, 400);
      assert.equal(((await garbage.json()) as { error: { code: number } }).error.code, -32700);
      const huge = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${aliceToken}` },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { pad: 'x'.repeat(5 * 1024 * 1024) },
        }),
      });
      assert.equal(huge.status, 413);

      const connect = async (token: string) => {
        const client = new Client({ name: 'http-agent', version: '1.0.0' });
        clients.push(client);
        await client.connect(
          new StreamableHTTPClientTransport(new URL(url), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        return client;
      };
      const alice = await connect(aliceToken);
      assert.deepEqual(
        (await alice.listTools()).tools.map((t) => t.name),
        ['get-sum'],
        'both the agent and alice must permit',
      );
      assert.match(text(await alice.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })), /3/);
      const bob = await connect(bobToken);
      assert.deepEqual((await bob.listTools()).tools, []);

      // bob's session is left idle while alice keeps hers busy: only bob's is closed.
      for (const stopAt = Date.now() + 4500; Date.now() < stopAt;) {
        await alice.listTools();
        await new Promise((r) => setTimeout(r, 400));
      }
      await assert.rejects(bob.listTools(), /session|404/i);

      const { decodeJwt } = await import('jose');
      spawnSync(node, [
        CLI,
        'token',
        'revoke',
        '--jti',
        String(decodeJwt(aliceToken).jti),
        '--data',
        data,
      ]);
      await assert.rejects(
        alice.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } }),
        /401|invalid token|revoked/i,
      );
    } finally {
      gw.stop();
    }
  });
});

describe("MCP gateway over Streamable HTTP, with an organisation's own identity provider", () => {
  it('accepts JWTs from the configured issuer (JWKS), maps their claims to agent and user, and refuses others', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { SignJWT, exportJWK } = await import('jose');
    const { createServer: createHttpServer } = await import('node:http');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwks = {
      keys: [{ ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'EdDSA', use: 'sig' }],
    };
    const idp = createHttpServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)),
    );
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as { port: number }).port}/jwks`;
    const sign = (claims: Record<string, unknown>, aud = 'mcp-gateway') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid: 'idp-1' })
        .setIssuer('https://idp.example')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);

    const dir = await policies(`
      @id("everything-tools") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"everything");
      @id("alice") permit (principal == User::"alice", action == Action::"invokeTool", resource == Tool::"everything/get-sum");`);
    const gw = await startHttpGateway({
      policies: dir,
      data: await tempDir(),
      name: 'everything',
      args: [
        '--jwt-issuer',
        'https://idp.example',
        '--jwt-audience',
        'mcp-gateway',
        '--jwt-jwks',
        jwksUrl,
        '--',
        node,
        EVERYTHING,
        'stdio',
      ],
    });
    try {
      const { url } = gw;
      const connect = async (token: string) => {
        const client = new Client({ name: 'idp-agent', version: '1.0.0' });
        clients.push(client);
        await client.connect(
          new StreamableHTTPClientTransport(new URL(url), {
            requestInit: { headers: { authorization: `Bearer ${token}` } },
          }),
        );
        return client;
      };
      const alice = await connect(await sign({ azp: 'coding-agent', sub: 'alice' }));
      assert.deepEqual(
        (await alice.listTools()).tools.map((t) => t.name),
        ['get-sum'],
      );
      const bob = await connect(await sign({ azp: 'coding-agent', sub: 'bob' }));
      assert.deepEqual((await bob.listTools()).tools, [], 'the user is evaluated too');
      await assert.rejects(
        connect(await sign({ azp: 'coding-agent', sub: 'alice' }, 'some-other-api')),
        /401|invalid/i,
      );
      const forged = await new SignJWT({ azp: 'coding-agent', sub: 'alice' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'idp-1' })
        .setIssuer('https://idp.example')
        .setAudience('mcp-gateway')
        .setExpirationTime('5m')
        .sign(generateKeyPairSync('ed25519').privateKey);
      await assert.rejects(connect(forged), /401|invalid/i);
    } finally {
      gw.stop();
      idp.close();
    }
  });
});

describe('MCP gateway content hook', () => {
  it('sees every tool result before the agent does', async () => {
    const decisions = await codingAgentMayCallTools();
    const seen: string[] = [];
    const { client, close } = await inProcessGateway({
      upstreams: [{ name: 'fixture', command: node, args: [FIXTURE] }],
      decisions,
      identity: { agent: 'coding-agent' },
      contentHook: ({ server, tool, decision, result }) => {
        seen.push(`${server}/${tool}:${decision.decision}`);
        return {
          ...result,
          content: result.content.map((c) =>
            c.type === 'text'
              ? { ...c, text: c.text.replace(/AKIA[0-9A-Z]{16}/g, '[REDACTED:aws-key]') }
              : c,
          ),
        };
      },
    });
    const r = await client.callTool({
      name: 'echo',
      arguments: { text: 'key AKIAABCDEFGHIJKLMNOP here' },
    });
    assert.equal(text(r), 'key [REDACTED:aws-key] here');
    assert.deepEqual(seen, ['fixture/echo:allow']);
    await close();
  });
});

describe('MCP gateway and the audit log', () => {
  it('withholds a tool result whose decision record cannot be made durable, then refuses calls', async () => {
    // A disk whose data flushes fail (EIO) once `failing` is set.
    let failing = false;
    const syncFile = (_fd: number, data: boolean) =>
      failing && data ? Promise.reject(new Error('EIO: i/o error')) : Promise.resolve();
    const log = await AuditLog.open(await tempDir('cordon-mcp-data-'), { sync: 'full', syncFile });
    const decisions = await codingAgentMayCallTools(log);
    const { client, close } = await inProcessGateway({
      upstreams: [
        { name: 'fixture', command: node, args: [FIXTURE] },
        { name: 'everything', command: node, args: [EVERYTHING, 'stdio'] },
      ],
      decisions,
      identity: { agent: 'coding-agent' },
    });
    try {
      // The decision's record is written; its fsync fails.
      failing = true;
      const progress: unknown[] = [];
      const withheld = (await client.callTool(
        {
          name: 'everything__trigger-long-running-operation',
          arguments: { duration: 1, steps: 3 },
        },
        undefined,
        { onprogress: (p) => progress.push(p) },
      )) as CallToolResult;
      assert.equal(withheld.isError, true);
      assert.match(text(withheld), /could not be made durable, so its result is withheld/);
      // The agent can still name the (allowed, recorded) decision whose result it did not get.
      assert.equal(
        (withheld._meta?.['cordon/decision'] as { decision?: string } | undefined)?.decision,
        'allow',
      );
      assert.deepEqual(progress, [], 'no progress from the upstream reached the agent either');
      const refused = (await client.callTool({
        name: 'fixture__echo',
        arguments: { text: 'again' },
      })) as CallToolResult;
      assert.match(text(refused), /Cordon denied fixture__echo .*audit-unavailable/);
    } finally {
      // Also when an assertion fails: the upstream processes would keep the test run alive.
      await close();
      await log.close().catch(() => {});
    }
  });
});
