// The official MCP conformance suite (npm @modelcontextprotocol/conformance, server scenarios)
// run against `cordon mcp serve` over Streamable HTTP, in front of a server that implements what
// the scenarios call (testing/conformance-server.ts), under a policy that permits it all. The
// suite is an unauthenticated client, so a local reverse proxy adds the bearer token (as an
// operator's front proxy would), passing Host and Origin through untouched. Nothing is fetched.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { tempDir } from '../../testing/fixtures.js';
import { issueToken, mcpPolicyDir, startHttpGateway } from '../../testing/mcp.js';

const require = createRequire(import.meta.url);
const SUITE = require.resolve('@modelcontextprotocol/conformance/dist/index.js');
const LOADER = fileURLToPath(new URL('../../testing/conformance-loader.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('../../testing/conformance-server.js', import.meta.url));

/** Forwards every request to `target`, adding `authorization`; streams both ways. */
async function bearerProxy(target: URL, authorization: string): Promise<Server> {
  const proxy = createServer((req, res) => {
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, authorization },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return proxy;
}

function run(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', LOADER, SUITE, ...args], { cwd });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('the MCP conformance suite through the gateway', async () => {
  const dir = await mcpPolicyDir(`
    permit (principal, action in [Action::"invokeTool", Action::"getPrompt", Action::"readResource"], resource in McpServer::"conformance");`);
  const data = await tempDir('cordon-mcp-conformance-');
  const gw = await startHttpGateway({
    policies: dir,
    data,
    name: 'conformance',
    // Each scenario opens a session of its own and leaves it to expire.
    args: ['--max-sessions', '64', '--', process.execPath, UPSTREAM],
  });
  const proxy = await bearerProxy(
    new URL(gw.url),
    `Bearer ${issueToken(data, 'alice', 'coding-agent', '1h')}`,
  );
  after(() => {
    proxy.close();
    gw.stop();
  });
  const port = (proxy.address() as { port: number }).port;

  it('passes every server scenario', async () => {
    const r = await run(
      ['server', '--url', `http://127.0.0.1:${port}/mcp`],
      await tempDir('cordon-conformance-results-'),
    );
    assert.equal(r.code, 0, r.out);
    const total = /Total: (\d+) passed, (\d+) failed/.exec(r.out);
    assert.ok(total && Number(total[1]) >= 30 && total[2] === '0', r.out);
  });
});
