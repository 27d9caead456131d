// The runnable examples of docs/sdk/*.md (examples/sdk/), run as a user runs them: `tsx`, the
// package imported by its name (`cordon/sdk`, `cordon/sdk/ai` … through package.json exports),
// the embedded decision point on the example policies, each framework's own model client
// pointed at the local model server by OPENAI_BASE_URL. The MCP server example is started over
// stdio by the official MCP client. And the examples typecheck against the published types.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startFakeProvider, type FakeProvider } from '../../demo/model-server.js';
import { ASK, LEDGER } from '../../testing/agent-tools.js';
import { tempDir } from '../../testing/fixtures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = `${ROOT}examples/sdk/`;

let provider: FakeProvider;
before(async () => {
  provider = await startFakeProvider();
});
after(() => provider.close());

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** One example with the model scripted to call all three tools in one turn. */
async function runExample(file: string): Promise<Run> {
  const r = await run(
    process.execPath,
    ['--import', 'tsx', `${EXAMPLES}${file}`, `${ASK.read} ${ASK.wire} ${ASK.delete}`],
    {
      OPENAI_BASE_URL: `${provider.url}/v1`,
      OPENAI_API_KEY: 'local',
      CORDON_DATA: await tempDir('cordon-example-'),
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return r;
}

/** What every agent example prints for the three calls: one ran, two were refused. */
function assertOutcomes(stdout: string): void {
  assert.match(stdout, new RegExp(`^ran +read_ledger: ${LEDGER}$`, 'm'));
  assert.match(
    stdout,
    /^refused wire_transfer: Cordon: invokeTool on Tool::"erp\/wire_transfer" needs a human's approval \(approval [\w-]+\)/m,
  );
  assert.match(
    stdout,
    /^refused delete_vendor: (\{"error":")?(CordonDeniedError: )?Cordon denied invokeTool on Tool::"erp\/delete_vendor" \(decision [\w-]+\)/m,
  );
  assert.match(stdout, /^model: +tool results: /m);
}

describe('examples/sdk', () => {
  it('ai-sdk.ts: the Vercel AI SDK example runs one call and refuses two', async () => {
    assertOutcomes((await runExample('ai-sdk.ts')).stdout);
  });

  it('langchain.ts: the LangChain.js example runs one call and refuses two', async () => {
    assertOutcomes((await runExample('langchain.ts')).stdout);
  });

  it('openai-agents.ts: the OpenAI Agents SDK example runs one call and refuses two', async () => {
    assertOutcomes((await runExample('openai-agents.ts')).stdout);
  });

  it('mcp-server.ts: the MCP server example refuses a denied call to the official client over stdio', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', `${EXAMPLES}mcp-server.ts`],
      cwd: ROOT,
      env: {
        ...(process.env as Record<string, string>),
        CORDON_DATA: await tempDir('cordon-example-'),
      },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'example-test', version: '1.0.0' });
    // Starting tsx and the decision point can be slow on a loaded machine: no 60 s default.
    await client.connect(transport, { timeout: 300_000 });
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(
        tools.map((t) => t.name),
        ['read_ledger', 'wire_transfer', 'delete_vendor'],
      );
      const ok = (await client.callTool({
        name: 'read_ledger',
        arguments: { account: '4711' },
      })) as CallToolResult;
      assert.equal(ok.isError, undefined);
      assert.deepEqual(ok.content, [{ type: 'text', text: LEDGER }]);
      const no = (await client.callTool({
        name: 'delete_vendor',
        arguments: { vendor: 'ACME' },
      })) as CallToolResult;
      assert.equal(no.isError, true);
      assert.match((no.content[0] as { text: string }).text, /^Cordon denied/);
    } finally {
      await client.close();
    }
  });

  it('the examples typecheck against the package types', async () => {
    const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
    const r = await run(process.execPath, [tsc, '-p', `${EXAMPLES}tsconfig.json`]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
