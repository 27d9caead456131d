// tools/list with Cedar partial evaluation: a tool is listed when some input could be permitted
// (the input is unknown while listing), and never when no input can be; the call is decided
// exactly, on its real arguments. Against the reference filesystem server from npm.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tempDir } from '../../testing/fixtures.js';
import { inProcessGateway, mcpDecisions } from '../../testing/mcp.js';

const require = createRequire(import.meta.url);
const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');

describe('MCP gateway: tools/list shows what some input could be permitted', async () => {
  const root = await tempDir('cordon-mcp-list-');
  const ws = join(root, 'ws');
  await mkdir(ws);
  const decisions = await mcpDecisions(`
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"fs/list_allowed_directories");
    // Writes only under ws: permitted for some inputs, so listed; each call decided on its path.
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"fs/write_file")
    when { context has input && context.input has path && context.input.path like "${ws}/*" };
    // The same on every path the call touches (context.pathsAllIn, unknown while listing).
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"fs/create_directory")
    when { context.pathsAllIn.contains("${ws}") };
    // Permitted for some inputs, but forbidden whatever the input: no input can be permitted.
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"fs/move_file")
    when { context has input && context.input has source && context.input.source like "${ws}/*" };
    forbid (principal, action == Action::"invokeTool", resource == Tool::"fs/move_file");
    // A condition on the resource alone that does not hold: no input can change it.
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"fs/edit_file")
    when { resource.readOnly && context has input };`);
  const gw = await inProcessGateway({
    upstreams: [{ name: 'fs', command: process.execPath, args: [FILESYSTEM, root] }],
    decisions,
    identity: { agent: 'coding-agent' },
  });
  after(() => gw.close());

  it('lists a tool permitted only for some arguments, and decides each call on its arguments', async () => {
    const names = (await gw.client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['create_directory', 'list_allowed_directories', 'write_file']);
    const inside = (await gw.client.callTool({
      name: 'write_file',
      arguments: { path: join(ws, 'a.txt'), content: 'x' },
    })) as CallToolResult;
    assert.ok(!inside.isError, JSON.stringify(inside));
    const outside = (await gw.client.callTool({
      name: 'write_file',
      arguments: { path: join(root, 'b.txt'), content: 'x' },
    })) as CallToolResult;
    assert.equal(outside.isError, true);
    assert.match(JSON.stringify(outside.content), /Cordon denied write_file/);
  });

  it('never lists a tool that no input could be permitted for, and refuses it when called', async () => {
    const names = (await gw.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.includes('move_file'), 'forbidden whatever the input');
    assert.ok(!names.includes('edit_file'), 'its condition on the tool does not hold');
    assert.ok(!names.includes('read_text_file'), 'no permit names it');
    const moved = (await gw.client.callTool({
      name: 'move_file',
      arguments: { source: join(ws, 'a.txt'), destination: join(ws, 'c.txt') },
    })) as CallToolResult;
    assert.equal(moved.isError, true);
  });
});
