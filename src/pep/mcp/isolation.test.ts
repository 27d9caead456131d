import assert from 'node:assert/strict';
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { tempDir } from '../../testing/fixtures.js';
import { isolatedDecisions } from '../../testing/isolation.js';
import { inProcessGateway, TRUST_ANNOTATIONS } from '../../testing/mcp.js';

const require = createRequire(import.meta.url);
const FILESYSTEM = require.resolve('@modelcontextprotocol/server-filesystem/dist/index.js');

describe('MCP gateway under isolation: revoked and write tools hidden and refused, sessions closed', async () => {
  const root = await tempDir('cordon-mcp-iso-');
  await writeFile(join(root, 'ticket.txt'), 'ticket 4711');
  // The agent may use every tool: whatever is hidden or refused below, the isolation did it.
  const ctx = await isolatedDecisions(
    'permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource);',
  );
  const open = () =>
    inProcessGateway({
      upstreams: [{ name: 'fs', command: process.execPath, args: [FILESYSTEM, root] }],
      decisions: ctx.decisions,
      identity: { agent: 'coding-agent' },
      pins: TRUST_ANNOTATIONS,
      isolation: ctx.isolation,
    });
  const gw = await open();
  const changed = new EventEmitter();
  gw.client.setNotificationHandler(
    ToolListChangedNotificationSchema,
    () => void changed.emit('tools'),
  );
  after(async () => {
    await gw.close();
    ctx.close();
  });
  const names = async () => (await gw.client.listTools()).tools.map((t) => t.name);
  const call = async (name: string, args: Record<string, unknown>) =>
    (await gw.client.callTool({ name, arguments: args })) as CallToolResult;
  const release = () => ctx.isolation.release({ agent: 'coding-agent' }, 'alice');

  it('a revoked tool leaves tools/list (the client is told) and its calls are refused; release brings it back', async () => {
    assert.ok((await names()).includes('write_file'));
    const told = once(changed, 'tools');
    await ctx.isolation.apply({
      agent: 'coding-agent',
      measures: { revokedTools: ['fs/write_file'] },
      reason: 'wrote outside the ticket',
      by: 'alice',
    });
    await told;
    const listed = await names();
    assert.ok(!listed.includes('write_file'));
    assert.ok(listed.includes('read_text_file'), 'the other tools stay');
    const refused = await call('write_file', { path: join(root, 'x.txt'), content: 'x' });
    assert.equal(refused.isError, true);
    assert.match(
      JSON.stringify(refused.content),
      /cordon\/isolation: agent \\"coding-agent\\" is isolated \(tool fs\/write_file is revoked\); applied by alice: wrote outside the ticket/,
    );
    const back = once(changed, 'tools');
    await release();
    await back;
    assert.ok((await names()).includes('write_file'));
    const ok = await call('write_file', { path: join(root, 'x.txt'), content: 'x' });
    assert.ok(!ok.isError, JSON.stringify(ok));
  });

  it('read-only hides and refuses the tools not marked read-only, and the agent still reads its workspace', async () => {
    await ctx.isolation.apply({
      agent: 'coding-agent',
      measures: { readOnly: true },
      reason: 'suspicious',
      by: 'risk:high',
    });
    const listed = await names();
    assert.ok(!listed.includes('write_file') && !listed.includes('move_file'));
    assert.ok(listed.includes('read_text_file'));
    const write = await call('write_file', { path: join(root, 'y.txt'), content: 'y' });
    assert.equal(write.isError, true);
    assert.match(JSON.stringify(write.content), /not marked read-only/);
    const read = await call('read_text_file', { path: join(root, 'ticket.txt') });
    assert.ok(!read.isError);
    assert.match(JSON.stringify(read.content), /ticket 4711/);
    await release();
    assert.ok((await names()).includes('write_file'));
  });

  it("another agent's isolation leaves this session alone", async () => {
    let told = false;
    const off = () => (told = true);
    changed.on('tools', off);
    await ctx.isolation.apply({
      agent: 'support-bot',
      measures: { full: true },
      reason: 'other',
      by: 'alice',
    });
    assert.ok((await names()).includes('write_file'));
    changed.off('tools', off);
    assert.equal(told, false);
    await ctx.isolation.release({ agent: 'support-bot' }, 'alice');
  });
  it("full isolation closes the agent's open sessions (this one too); after release a new session works", async () => {
    const other = await open();
    const closed = new Promise<void>((r) => (other.client.onclose = r));
    const firstClosed = new Promise<void>((r) => (gw.client.onclose = r));
    await other.client.listTools();
    await ctx.isolation.apply({
      agent: 'coding-agent',
      measures: { full: true },
      reason: 'exfiltration attempt',
      by: 'policy:no-exfil',
    });
    await closed;
    await firstClosed; // the first session too: the same agent

    await release();
    const fresh = await open();
    assert.ok((await fresh.client.listTools()).tools.length > 0);
    await fresh.close();
  });
});
