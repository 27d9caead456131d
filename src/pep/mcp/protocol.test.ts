// MCP methods beyond tools, prompts and reads, through the gateway to the everything server
// from npm: completion and resource subscriptions are decided like the prompt or resource they
// serve; both supported protocol revisions are spoken; a reused request id gets an error.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  EVERYTHING_SERVER,
  inProcessGateway,
  mcpDecisions,
  mcpPolicyDir,
  rawGateway,
} from '../../testing/mcp.js';

const node = process.execPath;
const everything = { name: 'everything', command: node, args: [EVERYTHING_SERVER, 'stdio'] };

describe('MCP gateway: completion and subscriptions are decided', async () => {
  const decisions = await mcpDecisions(`
    permit (principal == Agent::"coding-agent", action == Action::"getPrompt", resource == McpPrompt::"everything/completable-prompt");
    permit (principal == Agent::"coding-agent", action == Action::"readResource", resource in McpServer::"everything")
    unless { resource.uri like "*document*" };
    permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource == Tool::"everything/toggle-subscriber-updates");`);
  const open = (agent: string) =>
    inProcessGateway({ upstreams: [everything], decisions, identity: { agent } });
  const sessions: Awaited<ReturnType<typeof open>>[] = [];
  after(() => Promise.allSettled(sessions.map((s) => s.close())));

  it('completion/complete: allowed for a prompt the agent may get, refused otherwise', async () => {
    const gw = await open('coding-agent');
    sessions.push(gw);
    const ref = { type: 'ref/prompt' as const, name: 'completable-prompt' };
    const r = await gw.client.complete({ ref, argument: { name: 'department', value: 'Eng' } });
    assert.deepEqual(r.completion.values, ['Engineering']);
    // The arguments so far travel with it, as the server needs them.
    const names = await gw.client.complete({
      ref,
      argument: { name: 'name', value: '' },
      context: { arguments: { department: 'Sales' } },
    });
    assert.deepEqual(names.completion.values, ['David', 'Eve', 'Frank']);

    const intruder = await open('intruder');
    sessions.push(intruder);
    await assert.rejects(
      intruder.client.complete({ ref, argument: { name: 'department', value: 'Eng' } }),
      /Cordon denied completable-prompt/,
    );
  });

  it('resources/subscribe: decided as reading the resource; unsubscribe only what was subscribed', async () => {
    const gw = await open('coding-agent');
    sessions.push(gw);
    // A document the policy keeps from the agent: not listed, and not to be watched either.
    const doc = { uri: 'demo://resource/static/document/architecture.md' };
    const { resources } = await gw.client.listResources();
    assert.ok(!resources.some((r) => r.uri === doc.uri));
    await assert.rejects(gw.client.subscribeResource({ uri: doc.uri }), /Cordon denied/);

    const uri = 'demo://resource/dynamic/text/1';
    const updates: string[] = [];
    gw.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    assert.deepEqual(await gw.client.subscribeResource({ uri }), {});
    // The server sends an update for each subscription as soon as updates are switched on.
    await gw.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    for (let i = 0; i < 100 && updates.length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([...new Set(updates)], [uri]);
    assert.deepEqual(await gw.client.unsubscribeResource({ uri }), {});
    await assert.rejects(gw.client.unsubscribeResource({ uri }), /Not subscribed/);
    await assert.rejects(gw.client.unsubscribeResource({ uri: doc.uri }), /Not subscribed/);
  });
});

describe('MCP gateway over stdio: protocol revisions and request ids', () => {
  for (const version of ['2025-11-25', '2025-06-18']) {
    it(`speaks revision ${version} when the client asks for it`, async () => {
      const gw = await rawGateway(
        [
          ...['--policies', await policiesForStdio(), '--agent', 'coding-agent'],
          ...['--name', 'everything', '--', node, EVERYTHING_SERVER, 'stdio'],
        ],
        version,
      );
      try {
        await gw.until(() => gw.lines.some((l) => l.id === 1));
        const init = gw.lines.find((l) => l.id === 1) as { result: { protocolVersion: string } };
        assert.equal(init.result.protocolVersion, version);
        gw.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
        await gw.until(() => gw.lines.some((l) => l.id === 2));
        const list = gw.lines.find((l) => l.id === 2) as { result: { tools: { name: string }[] } };
        assert.ok(list.result.tools.some((t) => t.name === 'get-sum'));
      } finally {
        gw.kill();
      }
    });
  }

  it('answers a request reusing the id of one in flight with an error; the first gets its result', async () => {
    const gw = await rawGateway([
      '--policies',
      await policiesForStdio(),
      '--agent',
      'coding-agent',
      '--name',
      'everything',
      '--',
      node,
      EVERYTHING_SERVER,
      'stdio',
    ]);
    try {
      await gw.until(() => gw.lines.some((l) => l.id === 1));
      const call = (name: string, args: Record<string, unknown>) => ({
        jsonrpc: '2.0',
        id: 9,
        method: 'tools/call',
        params: { name, arguments: args },
      });
      gw.send(call('trigger-long-running-operation', { duration: 1, steps: 2 }));
      gw.send(call('get-sum', { a: 1, b: 2 }));
      await gw.until(() => gw.lines.filter((l) => l.id === 9).length >= 2);
      const answers = gw.lines.filter((l) => l.id === 9);
      assert.equal(answers.length, 2);
      assert.equal(answers[0]!.error?.code, -32600, 'the reuse is refused at once');
      assert.match(JSON.stringify(answers[1]!.result), /Long running operation completed/);
      // Answered: the id is free again.
      gw.send(call('get-sum', { a: 1, b: 2 }));
      await gw.until(() => gw.lines.filter((l) => l.id === 9).length >= 3);
      assert.match(JSON.stringify(gw.lines.filter((l) => l.id === 9)[2]!.result), /3/);
    } finally {
      gw.kill();
    }
  });
});

let stdioPolicies: string | undefined;
async function policiesForStdio(): Promise<string> {
  stdioPolicies ??= await mcpPolicyDir(
    'permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource);',
  );
  return stdioPolicies;
}
