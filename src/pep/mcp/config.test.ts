import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { McpConfigError, parseMcpServers, wrapMcpServers } from './config.js';

const require = createRequire(import.meta.url);
const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../testing/mcp-fixture-server.js', import.meta.url));
const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');

const POLICIES = `permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource)
when { resource == Tool::"fixture/echo" || resource == Tool::"everything/get-sum" };`;

async function policyDir(): Promise<string> {
  const dir = await tempDir('cordon-mcp-config-');
  const { cp } = await import('node:fs/promises');
  await cp(join(EXAMPLE_POLICIES, 'schema.cedarschema'), join(dir, 'schema.cedarschema'));
  await cp(join(EXAMPLE_POLICIES, 'entities.json'), join(dir, 'entities.json'));
  await writeFile(join(dir, 'p.cedar'), POLICIES);
  return dir;
}

const servers = {
  mcpServers: {
    fixture: { command: process.execPath, args: [FIXTURE] },
    everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], env: { EXAMPLE: '1' } },
  },
};

describe('mcpServers files', () => {
  it('parses the Claude Desktop / Cursor form and the VS Code form, and refuses bad ones', () => {
    assert.deepEqual(
      parseMcpServers(JSON.stringify(servers), 'f').specs.map((s) => s.name),
      ['fixture', 'everything'],
    );
    assert.equal(
      parseMcpServers(JSON.stringify({ servers: { web: { url: 'http://127.0.0.1:1/mcp' } } }), 'f')
        .specs[0]!.name,
      'web',
    );
    assert.throws(() => parseMcpServers('{', 'f'), McpConfigError);
    assert.throws(() => parseMcpServers('{"mcpServers": {}}', 'f'), /no servers/);
    assert.throws(
      () => parseMcpServers('{"mcpServers": {"a b": {"command": "x"}}}', 'f'),
      /server name/,
    );
  });

  it('serves every server of a file behind one gateway, names prefixed', async () => {
    const file = join(await tempDir(), 'mcp.json');
    await writeFile(file, JSON.stringify(servers));
    const client = new Client({ name: 't', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CLI,
          'mcp',
          'serve',
          '--policies',
          await policyDir(),
          '--data',
          await tempDir(),
          '--agent',
          'coding-agent',
          '--config',
          file,
          '--log-level',
          'warn',
        ],
        stderr: 'ignore',
      }),
    );
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), [
        'everything__get-sum',
        'fixture__echo',
      ]);
      const r = (await client.callTool({
        name: 'fixture__echo',
        arguments: { text: 'via prefix' },
      })) as { content: { text: string }[] };
      assert.equal(r.content[0]!.text, 'via prefix');
    } finally {
      await client.close();
    }
  });

  it('wrap rewrites a client config so that each server runs behind Cordon, and it works', async () => {
    const dir = await policyDir();
    const data = await tempDir();
    const file = join(await tempDir(), 'claude_desktop_config.json');
    await writeFile(file, JSON.stringify({ ...servers, otherSetting: true }));
    const r = spawnSync(
      process.execPath,
      [CLI, 'mcp', 'wrap', '--policies', dir, '--agent', 'coding-agent', '--data', data, file],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const wrapped = JSON.parse(r.stdout) as {
      otherSetting: boolean;
      mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }>;
    };
    assert.equal(wrapped.otherSetting, true, 'the rest of the file is kept');
    const everything = wrapped.mcpServers.everything!;
    assert.equal(everything.command, process.execPath);
    assert.deepEqual(everything.args.slice(1, 3), ['mcp', 'serve']);
    assert.deepEqual(everything.env, { EXAMPLE: '1' });
    assert.ok(everything.args.includes('--') && everything.args.includes(EVERYTHING));

    // Start the wrapped entry the way a client would.
    const client = new Client({ name: 't', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: everything.command,
        args: everything.args,
        env: { ...(process.env as Record<string, string>), ...everything.env },
        stderr: 'ignore',
      }),
    );
    try {
      assert.deepEqual(
        (await client.listTools()).tools.map((t) => t.name),
        ['get-sum'],
      );
    } finally {
      await client.close();
    }
  });
});

describe('mcp wrap keeps the rest of the file', () => {
  // A Claude Desktop file as people keep it: four-space indent, settings around the servers,
  // client keys on each entry.
  const claude = `{
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "fs": {
            "disabled": false,
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            "env": { "A": "1" },
            "autoApprove": ["read_file"]
        },
        "web": { "type": "http", "url": "http://127.0.0.1:9/mcp", "timeout": 30 }
    },
    "theme": "dark"
}
`;
  const opts = { policies: '/p', agent: 'a', data: '/d' };

  it('keeps top-level keys, entry keys and their order, and the indentation', () => {
    const { text, warnings } = wrapMcpServers(claude, 'claude.json', opts);
    assert.deepEqual(warnings, []);
    assert.match(text, /^\{\n {4}"globalShortcut": "Ctrl\+Space",\n {4}"mcpServers": \{\n {8}"fs"/);
    const json = JSON.parse(text) as {
      mcpServers: Record<string, Record<string, unknown>>;
    } & Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['globalShortcut', 'mcpServers', 'theme']);
    assert.equal(json.theme, 'dark');
    assert.deepEqual(Object.keys(json.mcpServers.fs!), [
      'disabled',
      'command',
      'args',
      'env',
      'autoApprove',
    ]);
    assert.deepEqual(json.mcpServers.fs!.autoApprove, ['read_file']);
    assert.deepEqual(json.mcpServers.fs!.env, { A: '1' });
    assert.deepEqual(Object.keys(json.mcpServers.web!), ['command', 'args', 'timeout']);
    assert.deepEqual((json.mcpServers.web!.args as string[]).slice(-2), [
      '--url',
      'http://127.0.0.1:9/mcp',
    ]);
    assert.ok(text.endsWith('}\n'));
  });

  it('leaves an entry it wrapped before as it is', () => {
    const once = wrapMcpServers(claude, 'claude.json', opts).text;
    assert.equal(wrapMcpServers(once, 'claude.json', opts).text, once);
  });

  it('uses two spaces for a file on one line, and the VS Code "servers" key in place', () => {
    const vscode = JSON.stringify({ inputs: [], servers: { s: { command: 'x' } } });
    const { text } = wrapMcpServers(vscode, 'mcp.json', opts);
    assert.match(text, /^\{\n {2}"inputs": \[\],\n {2}"servers"/);
  });

  it('warns that an entry with headers loses them behind --url', () => {
    const withHeaders = JSON.stringify({
      mcpServers: { api: { url: 'http://127.0.0.1:9/mcp', headers: { authorization: 'x' } } },
    });
    const { text, warnings } = wrapMcpServers(withHeaders, 'c.json', opts);
    assert.match(warnings[0] ?? '', /server "api": its headers are not passed on/);
    assert.doesNotMatch(text, /authorization/);
  });
});
