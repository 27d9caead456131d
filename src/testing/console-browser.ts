// The console's end-to-end browser tests: a signed-in browser page on a running server, and a relay
// in front of that server whose connections can be cut (the live streams must say so and recover).

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LAPTOP } from './browser.js';

/** A one-use sign-in link for the admin (`POST /v1/console/sign-in-tokens`), as an absolute URL. */
export async function signInLink(base: string, admin: { authorization: string }): Promise<string> {
  const res = await fetch(`${base}/v1/console/sign-in-tokens`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: '{}',
  });
  if (res.status !== 201) throw new Error(`sign-in token: ${res.status} ${await res.text()}`);
  const { signInToken } = (await res.json()) as { signInToken: string };
  // The link `cordon serve` prints, on whichever address the browser uses.
  return `${base}/ui/#signInToken=${encodeURIComponent(signInToken)}`;
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged as errors, and requests that failed: a test may assert none. */
  problems: string[];
}

/** A fresh browser context (no cookies) on a laptop-sized screen, signed in with `link`. */
export async function signedInPage(browser: Browser, link: string): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport: LAPTOP });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(link);
  await page.getByText(/Signed in as/).waitFor();
  return { context, page, problems };
}

/**
 * A TCP relay to `target`. `down()` ends its open connections and refuses new ones, as a lost
 * network would, until `up()`.
 */
export async function cuttableRelay(target: { host: string; port: number }): Promise<{
  url: string;
  down(): void;
  up(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    down: () => {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    up: () => {
      refusing = false;
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
