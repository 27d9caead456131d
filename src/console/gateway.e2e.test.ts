// The web console in a real browser (Debian's Chromium) against a real MCP gateway serving the
// API beside it (`cordon mcp serve --api`), with an agent calling tools through the official
// MCP SDK: a request waiting for approval is answered in the inbox and the agent's retried call
// runs; a tool revoked from the agent's page is refused on the agent's next call, and comes back
// when released. Screenshots for docs/console.md (CORDON_SCREENSHOTS=1 writes them there).

import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Browser, Page } from 'playwright-core';
import { adminHeader } from '../testing/auth.js';
import { browserMissing, launchBrowser, screenshot } from '../testing/browser.js';
import { signedInPage, signInLink } from '../testing/console-browser.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { CORDON_CLI, EVERYTHING_SERVER, mcpPolicyDir } from '../testing/mcp.js';
import { freePort, waitForHttp } from '../testing/net.js';

const skip = browserMissing();

const text = (r: CallToolResult) => JSON.stringify(r.content);

describe('the console beside an MCP gateway, in Chromium', { skip }, () => {
  let client: Client;
  let api: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const policies = await mcpPolicyDir(`
      @id("everything-tools") permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource in McpServer::"everything");
      @id("people-use-everything") permit (principal is User, action == Action::"invokeTool", resource in McpServer::"everything");
      @id("echo-needs-approval") @outcome("require_approval") forbid (principal, action == Action::"invokeTool", resource == Tool::"everything/echo");`);
    // The operators' rights (the console's actions among them) as shipped.
    await copyFile(join(EXAMPLE_POLICIES, 'control.cedar'), join(policies, 'control.cedar'));
    const data = await tempDir('cordon-console-gw-');
    api = `http://127.0.0.1:${await freePort()}`;
    client = new Client({ name: 'console-e2e-agent', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          CORDON_CLI,
          'mcp',
          'serve',
          '--policies',
          policies,
          '--data',
          data,
          '--agent',
          'coding-agent',
          '--user',
          'alice',
          '--name',
          'everything',
          '--api',
          api,
          '--log-level',
          'warn',
          '--',
          process.execPath,
          EVERYTHING_SERVER,
          'stdio',
        ],
        stderr: 'ignore',
      }),
    );
    await waitForHttp(`${api}/healthz`, 30_000);
    browser = await launchBrowser();
    ({ page } = await signedInPage(browser, await signInLink(api, await adminHeader(data))));
    page.setDefaultTimeout(30_000);
  });
  after(async () => {
    await browser?.close();
    await client?.close();
  });

  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;

  it("approves a pending request in the inbox, and the agent's retried call runs", async () => {
    await page.goto(`${api}/ui/#/approvals`);
    await page.getByText(/^Live: approval inbox/).waitFor();
    const args = { message: 'restart the billing worker' };
    const gated = await call('echo', args);
    assert.equal(gated.isError, true);
    assert.match(text(gated), /approval/);

    // It arrives in the open page by itself, with exactly the arguments an approval would allow.
    const card = page.locator('article.card', { hasText: 'coding-agent for alice' });
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /"message": "restart the billing worker"/);
    assert.match((await card.textContent()) ?? '', /echo-needs-approval/);
    await card.getByLabel('Note (recorded with the answer)').fill('change ticket 4711');
    await screenshot(page, 'approvals');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page
      .getByRole('status')
      .getByText(
        'Approved by cordon-admin: coding-agent for alice, invokeTool Tool::"everything/echo".',
      )
      .waitFor();
    await card.waitFor({ state: 'detached' }); // the live inbox no longer lists it

    const retried = await call('echo', args);
    assert.ok(!retried.isError, text(retried));
    assert.match(text(retried), /restart the billing worker/);
    // The answered request moves to the recent list, with the note.
    await page.locator('table', { hasText: 'change ticket 4711' }).waitFor();
  });

  it("revokes a tool from the agent's page: the agent's next call is refused, and runs again once released", async () => {
    assert.ok(!(await call('get-sum', { a: 2, b: 3 })).isError, 'the tool works at first');
    await page.goto(`${api}/ui/#/agents/coding-agent`);
    await page.getByText('Not isolated.').waitFor();
    await page.getByLabel('Restrict: revoke tools').check();
    await page.getByLabel(/^Tools to revoke/).fill('everything/get-sum');
    await page.getByLabel('Reason (recorded)').fill('summing outside its task');
    await page.getByRole('button', { name: 'Restrict' }).click();
    await page
      .getByText(/tools revoked: everything\/get-sum .*by cordon-admin: summing outside its task/)
      .waitFor();
    await screenshot(page, 'agent');

    const refused = await call('get-sum', { a: 2, b: 3 });
    assert.equal(refused.isError, true);
    assert.match(
      text(refused),
      /cordon\/isolation: agent \\"coding-agent\\" is isolated \(tool everything\/get-sum is revoked\)/,
    );

    await page.getByLabel('Reason (recorded)').fill('reviewed');
    await page.getByRole('button', { name: 'Release' }).click();
    await page.getByText('Not isolated.').waitFor();
    const back = await call('get-sum', { a: 2, b: 3 });
    assert.ok(!back.isError, text(back));
  });

  it('refuses an isolation without a reason in the page, before asking the server', async () => {
    await page.goto(`${api}/ui/#/agents/coding-agent`);
    await page.getByText('Not isolated.').waitFor();
    await page.getByRole('button', { name: 'Restrict' }).click();
    await page.getByText(/^Give a reason/).waitFor();
    assert.equal(await page.getByText('Not isolated.').count(), 1);
  });
});
