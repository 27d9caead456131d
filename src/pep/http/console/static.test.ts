import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { consoleApp, type ConsoleTestApp } from '../../../testing/console.js';
import { tempDir } from '../../../testing/fixtures.js';

let t: ConsoleTestApp;
let missing: ConsoleTestApp;
const script = `export const hello = ${JSON.stringify('x'.repeat(4000))};\n`;

before(async () => {
  const dir = await tempDir('cordon-ui-');
  const ui = join(dir, 'dist');
  await mkdir(join(ui, 'assets'), { recursive: true });
  await writeFile(join(ui, 'index.html'), '<!doctype html><title>Cordon</title>');
  await writeFile(join(ui, 'assets', 'index-abc123.js'), script);
  await writeFile(join(ui, 'robots.txt'), 'User-agent: *\n');
  await writeFile(join(dir, 'secret.txt'), 'not for the web');
  await symlink(join(dir, 'secret.txt'), join(ui, 'leak.txt'));
  t = await consoleApp({ console: { uiDir: ui } });
  missing = await consoleApp();
});
after(async () => {
  await t.close();
  await missing.close();
});

/** A GET with the path sent exactly as written (fetch would normalize `..`). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serving the console', () => {
  it('redirects / to /ui/ and serves index.html with a strict CSP, uncached', async () => {
    const root = await fetch(`${t.base}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const res = await fetch(`${t.base}/ui/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline or eval script');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(await res.text(), /<title>Cordon<\/title>/);
  });

  it('client-side routes get index.html; hashed assets are immutable and compressed', async () => {
    const route = await fetch(`${t.base}/ui/agents/ledger-bot`);
    assert.equal(route.status, 200);
    assert.match(await route.text(), /<title>Cordon/);
    const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve) => {
      const u = new URL(t.base);
      request(
        {
          host: u.hostname,
          port: u.port,
          path: '/ui/assets/index-abc123.js',
          headers: { 'accept-encoding': 'gzip' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        },
      ).end();
    });
    assert.equal(raw.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(raw.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(raw.headers['content-encoding'], 'gzip');
    assert.ok(raw.body.length < script.length / 10);
    assert.equal(gunzipSync(raw.body).toString(), script);
    const txt = await fetch(`${t.base}/ui/robots.txt`);
    assert.equal(txt.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(txt.headers.get('cache-control'), 'no-cache');
  });

  it('never serves a file from outside ui/dist', async () => {
    for (const path of [
      '/ui/../secret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/assets/%2e%2e/%2e%2e/secret.txt',
      '/ui/..%2fsecret.txt',
      '/ui/%5c..%5csecret.txt',
    ]) {
      const res = await rawGet(t.base, path);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
      assert.doesNotMatch(res.body, /not for the web/, path);
    }
    const link = await fetch(`${t.base}/ui/leak.txt`);
    assert.equal(link.status, 404, 'a link leading out of the directory is not followed');
    assert.equal((await fetch(`${t.base}/ui/nope.js`)).status, 404);
  });

  it('says clearly when the console is not built', async () => {
    const res = await fetch(`${missing.base}/ui/`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /web console is not built: .* is missing/);
  });
});
