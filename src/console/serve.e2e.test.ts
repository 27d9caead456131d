// The web console in a real browser (Debian's Chromium) against a real `cordon serve`: signing
// in, a decision arriving live (and the stream saying it was lost, then catching up), the
// decision's page with its reasons' policy text and its inclusion proof checked in the browser,
// the policy playground, and the audit page. One browser for the file; screenshots of each page
// for docs/console.md (CORDON_SCREENSHOTS=1 writes them there).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { formatVerifierKey, noteKey } from '../audit/note.js';
import { browserMissing, launchBrowser, screenshot } from '../testing/browser.js';
import { cuttableRelay, signedInPage, signInLink } from '../testing/console-browser.js';
import { tempDir } from '../testing/fixtures.js';
import { startServeNode, type ServeNode } from '../testing/serve-node.js';

const skip = browserMissing();

describe('the console on cordon serve, in Chromium', { skip }, () => {
  let node: ServeNode;
  let relay: Awaited<ReturnType<typeof cuttableRelay>>;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  /** One decision by the analyst agent, as any PEP would ask for it. */
  const decide = async (file: string) => {
    const res = await fetch(`${node.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        agent: 'analyst-bot',
        action: 'readFile',
        resource: { type: 'FilePath', id: file },
      }),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { decision: string; decisionId: string };
  };

  // The organization's identity provider: its key signs people's tokens.
  const idp = generateKeyPairSync('ed25519');
  const personToken = (user: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('https://idp.test')
      .setAudience('cordon')
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(idp.privateKey);

  before(async () => {
    const keyFile = join(await tempDir('cordon-idp-'), 'idp.pem');
    await writeFile(keyFile, idp.publicKey.export({ format: 'pem', type: 'spki' }));
    node = await startServeNode('console', {
      config: { auth: { issuer: { issuer: 'https://idp.test', audience: 'cordon', keyFile } } },
    });
    relay = await cuttableRelay({ host: '127.0.0.1', port: Number(new URL(node.url).port) });
    browser = await launchBrowser();
    ({ page, problems } = await signedInPage(browser, await signInLink(relay.url, node.admin)));
    page.setDefaultTimeout(30_000);
  });
  after(async () => {
    await browser?.close();
    await relay?.close();
    await node?.stop();
  });

  it('signs in with the one-use link; the same link does not sign in a second browser', async () => {
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    assert.match((await page.locator('.who').textContent()) ?? '', /cordon-admin/);
    // The token was taken out of the address bar.
    assert.doesNotMatch(page.url(), /signInToken/);

    const link = await signInLink(relay.url, node.admin);
    const first = await signedInPage(browser, link);
    await first.context.close();
    const second = await browser.newContext();
    const again = await second.newPage();
    await again.goto(link);
    await again.getByRole('alert').or(again.locator('.notice')).first().waitFor();
    assert.match(
      (await again.locator('main').textContent()) ?? '',
      /Sign-in failed/,
      'a used link is refused',
    );
    await again.getByLabel('Sign-in link or token').waitFor();
    await screenshot(again, 'sign-in');
    await second.close();
  });

  it('works from the keyboard: a skip link, the navigation, and the focus on the new page', async () => {
    await page.goto(`${relay.url}/ui/#/decisions`);
    await page.getByRole('heading', { name: 'Decisions' }).waitFor();
    await page.locator('body').focus();
    const focused = () =>
      page.evaluate('document.activeElement && document.activeElement.textContent.trim()');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Decisions');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Approvals');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    // The new page's heading takes the focus, so a screen reader starts there.
    await page.waitForFunction("document.activeElement && document.activeElement.tagName === 'H1'");
    assert.equal(await focused(), 'Approvals');
  });

  it('shows a decision as it is made, says when the stream is lost, and catches up after it', async () => {
    await page.goto(`${relay.url}/ui/#/decisions`);
    await page.getByText(/^Live: decision stream/).waitFor();
    const allowed = await decide('/workspace/analyst-q3/live-1.csv');
    assert.equal(allowed.decision, 'allow');
    const row = page.locator(`a.drow[href$="${allowed.decisionId}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /analyst-bot.*readFile.*live-1\.csv/);
    await screenshot(page, 'decisions');

    relay.down();
    await page.getByText(/Connection lost at .*reconnecting/).waitFor();
    const whileDown = await decide('/etc/shadow');
    assert.equal(whileDown.decision, 'deny');
    relay.up();
    await page.getByText(/^Live: decision stream/).waitFor();
    // Made while the page was cut off, it arrives once the stream resumes after the last one seen.
    await page.locator(`a.drow[href$="${whileDown.decisionId}"]`).waitFor();
    assert.equal(
      await page.locator(`a.drow[href$="${allowed.decisionId}"]`).count(),
      1,
      'no repeats',
    );
  });

  it('filters the stream on the server: only the denials once outcome is deny', async () => {
    await page.goto(`${relay.url}/ui/#/decisions`);
    await page.getByLabel('Outcome').selectOption('deny');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText(/^Live: decision stream/).waitFor();
    assert.match(page.url(), /outcome=deny/);
    const allowed = await decide('/workspace/analyst-q3/filtered.csv');
    const denied = await decide('/etc/passwd');
    await page.locator(`a.drow[href$="${denied.decisionId}"]`).waitFor();
    assert.equal(await page.locator(`a.drow[href$="${allowed.decisionId}"]`).count(), 0);
    const outcomes = await page
      .locator('a.drow')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
    assert.ok(outcomes.length > 0 && outcomes.every((o) => o === 'deny'), outcomes.join(','));
  });

  describe("a decision's page", () => {
    let id: string;
    before(async () => {
      id = (await decide('/workspace/analyst-q3/proof.csv')).decisionId;
    });

    it('links each reason to the text of the policy that decided', async () => {
      await page.goto(`${relay.url}/ui/#/decisions/${id}`);
      await page.getByRole('heading', { name: 'Reasons' }).waitFor();
      await page.getByRole('link', { name: 'analyst-workspace-files' }).click();
      await page.getByRole('heading', { name: 'Policy analyst-workspace-files' }).waitFor();
      const text = (await page.locator('pre.code').textContent()) ?? '';
      assert.match(text, /permit\s*\(/);
      assert.match(text, /analyst-bot|analyst/);
    });

    it('checks its inclusion proof in the browser against the trusted key', async () => {
      await page.goto(`${relay.url}/ui/#/decisions/${id}`);
      await page.getByLabel('Trusted verifier key').fill(node.verifierKey);
      await page.getByRole('button', { name: 'Check proof' }).click();
      await page.getByText('Proof verified: this record is in the signed log.').waitFor();
      const steps = (await page.locator('.verdict ol').textContent()) ?? '';
      assert.match(steps, /checkpoint signature: Ed25519 signature verifies/);
      assert.match(steps, /inclusion path: \d+ hashes from leaf \d+ lead to the signed root/);
      await page.getByRole('heading', { name: 'Inclusion proof' }).scrollIntoViewIfNeeded();
      await screenshot(page, 'decision');
    });

    it('fails the proof under another key', async () => {
      const other = noteKey(
        'audit',
        Buffer.from(
          generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }),
        ).subarray(12),
      );
      await page.goto(`${relay.url}/ui/#/decisions/${id}`);
      await page.getByLabel('Trusted verifier key').fill(formatVerifierKey(other));
      await page.getByRole('button', { name: 'Check proof' }).click();
      await page.getByText(/^Proof failed: checkpoint signature: not signed by audit\+/).waitFor();
    });

    it('fails the proof when the server shows another record than the one in the log', async () => {
      // A server that lies: the page is told the decision was a deny, and the proof is for that.
      const lie = (text: string) => text.replace('"decision":"allow"', '"decision":"deny"');
      await page.route(`**/v1/console/decisions/${id}`, async (route) => {
        const res = await route.fetch();
        const body = (await res.json()) as { record: { decision: string } };
        body.record.decision = 'deny';
        await route.fulfill({ response: res, json: body });
      });
      await page.goto(`${relay.url}/ui/#/decisions`); // away, so the decision's page loads anew
      await page.goto(`${relay.url}/ui/#/decisions/${id}`);
      await page.getByText('Decision deny').waitFor();
      await page.getByLabel('Trusted verifier key').fill(node.verifierKey);
      await page.getByRole('button', { name: 'Check proof' }).click();
      await page
        .getByText('Proof failed: record: the record shown is not the record the proof is for')
        .waitFor();

      await page.route(`**/v1/console/decisions/${id}/proof`, async (route) => {
        const res = await route.fetch();
        const body = (await res.json()) as { recordText: string };
        body.recordText = lie(body.recordText);
        await route.fulfill({ response: res, json: body });
      });
      await page.getByRole('button', { name: 'Check proof' }).click();
      await page
        .getByText(/^Proof failed: inclusion path: the record is not included in the signed tree/)
        .waitFor();
      await page.unrouteAll();
    });
  });

  it('playground: a located error, fixed, then tests and what-if on the edited copy', async () => {
    await page.goto(`${relay.url}/ui/#/policies`);
    await page.getByText(/^Version sha256:/).waitFor();
    await page.getByLabel('File').selectOption('analyst.cedar');
    const editor = page.locator('#pg-editor');
    const original = await editor.inputValue();
    assert.match(original, /permit/);
    // Every analyst read is refused: a forbid missing its semicolon first.
    const broken = `${original.trimEnd()}\n\n@id("analysts-paused")\nforbid (principal == Agent::"analyst-bot", action, resource)\n`;
    await editor.fill(broken);
    await page.getByRole('button', { name: 'Validate' }).click();
    const located = page.locator('ul.errors button').first();
    await located.waitFor();
    const where = (await located.textContent()) ?? '';
    assert.match(where, /^analyst\.cedar:\d+:\d+$/, where);
    await located.click();
    const line = Number(where.split(':')[1]);
    // Runs in the page (a textarea there); Node's lib has no DOM types.
    const cursorLine = await editor.evaluate(
      (ta: { value: string; selectionStart: number }) =>
        ta.value.slice(0, ta.selectionStart).split('\n').length,
    );
    assert.equal(cursorLine, line, 'the editor goes to the error');
    await screenshot(page, 'policies-error');

    await editor.fill(`${broken.trimEnd()};\n`);
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText(/^Valid: this copy would be version sha256:/).waitFor();

    await page.getByRole('button', { name: 'Run tests' }).click();
    await page.getByText(/^\d+ passed, [1-9]\d* failed$/).waitFor(); // the analyst's allows now fail

    await page.getByRole('button', { name: 'What-if' }).click();
    await page
      .getByText(/^[1-9]\d* of \d+ recorded decisions would change under this copy\.$/)
      .waitFor();
    assert.match((await page.locator('#pg-results').textContent()) ?? '', /allow → deny/);
    await screenshot(page, 'policies');
  });

  it('audit: verifies the whole log with progress, lists checkpoints, exports', async () => {
    await page.goto(`${relay.url}/ui/#/audit`);
    await page.getByText(/^Verifier key:/).waitFor();
    assert.match(
      (await page.locator('main').textContent()) ?? '',
      new RegExp(node.verifierKey.split('+')[0]!),
    );
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(/^Intact: [\d,]+ records, \d+ checkpoints/).waitFor();
    assert.equal(await page.locator('#verify-progress').count(), 1);
    await screenshot(page, 'audit');
    const href = await page.getByRole('link', { name: 'Export JSON lines' }).getAttribute('href');
    const res = await page.request.get(`${relay.url}${href}`);
    assert.equal(res.status(), 200);
    const lines = (await res.text()).trim().split('\n');
    assert.ok(lines.length >= 5, `${lines.length} records exported`);
    assert.ok(lines.every((l) => typeof (JSON.parse(l) as { id: unknown }).id === 'string'));
  });

  it("a person signs in with the identity provider's token; what policy does not let them do, the server refuses", async () => {
    // carol is an SRE: the shipped control.cedar lets her watch agents, not isolate them.
    const context = await browser.newContext();
    const p = await context.newPage();
    p.setDefaultTimeout(30_000);
    await p.goto(`${relay.url}/ui/`);
    await p.getByLabel('Or an identity provider token (JWT)').fill(await personToken('carol'));
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByText(/Signed in as/).waitFor();
    assert.match((await p.locator('.who').textContent()) ?? '', /carol/);

    await p.goto(`${relay.url}/ui/#/agents/analyst-bot`);
    await p.getByText('Not isolated.').waitFor();
    await p.getByLabel('Reason (recorded)').fill('trying');
    await p.getByRole('button', { name: 'Restrict' }).click();
    const refusal = p.getByRole('alert');
    await refusal.waitFor();
    assert.match(
      (await refusal.textContent()) ?? '',
      /user carol may not isolate Agent::"analyst-bot": cordon\/default-deny/,
    );
    assert.equal(await p.getByText('Not isolated.').count(), 1, 'nothing changed');
    await screenshot(p, 'refused');

    // The playground is editPolicy, which SREs do not have: refused by the server, named.
    await p.goto(`${relay.url}/ui/#/policies`);
    await p.getByRole('alert').waitFor();
    await context.close();
  });

  it('logged no errors in the page', () => {
    // A lost connection is logged by the browser itself while the relay is down; nothing else.
    const unexpected = problems.filter((p) => !/ERR_CONNECTION|net::|EventSource/.test(p));
    assert.deepEqual(unexpected, []);
  });
});
