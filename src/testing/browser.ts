// A real browser for the console's end-to-end tests: Debian's Chromium (installed by .ci/run),
// driven by playwright-core, which downloads nothing. Where Chromium is absent the tests skip
// with the reason; CI sets CORDON_REQUIRE_BROWSER=1, and there an absent browser fails them.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tempDir } from './fixtures.js';

/** The browser binary: CORDON_CHROMIUM, else Debian's package. */
export const CHROMIUM = process.env.CORDON_CHROMIUM || '/usr/bin/chromium';

/** Why the browser tests cannot run (undefined when they can); throws under CORDON_REQUIRE_BROWSER=1. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} is not installed (apt-get install chromium, or set CORDON_CHROMIUM)`;
  if (process.env.CORDON_REQUIRE_BROWSER === '1')
    throw new Error(`${why}, and CORDON_REQUIRE_BROWSER=1 requires it`);
  return why;
}

/** Headless Chromium with nothing in the background that reaches the network. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A laptop screen: what the console is laid out for. */
export const LAPTOP = { width: 1280, height: 800 };

const DOCS = fileURLToPath(new URL('../../docs/console/', import.meta.url));
let scratch: string | undefined;

/**
 * A screenshot of the page as the test left it: into docs/console/NAME.png (shown in
 * docs/console.md) when CORDON_SCREENSHOTS=1, else into a temporary directory, so running the
 * tests does not rewrite tracked images.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  let dir = DOCS;
  if (process.env.CORDON_SCREENSHOTS !== '1') dir = scratch ??= await tempDir('cordon-shots-');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}
