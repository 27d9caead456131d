// The built console (ui/dist, made by `npm run build`) is small and self-contained: the
// JavaScript a first visit loads stays under 300 KB compressed (issue 22), and the page loads
// nothing from another origin (no CDN fonts, scripts or styles).

import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { describe, it } from 'node:test';

const DIST = fileURLToPath(new URL('../../ui/dist/', import.meta.url));
const BUDGET = 300 * 1024;

interface Chunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  css?: string[];
}

/** The files the entry loads before anything renders: itself and its static imports. */
function firstLoad(manifest: Record<string, Chunk>): { js: string[]; css: string[] } {
  const js = new Set<string>();
  const css = new Set<string>();
  const visit = (key: string) => {
    const c = manifest[key];
    if (!c || js.has(c.file)) return;
    js.add(c.file);
    c.css?.forEach((f) => css.add(f));
    c.imports?.forEach(visit);
  };
  for (const [key, c] of Object.entries(manifest)) if (c.isEntry) visit(key);
  return { js: [...js], css: [...css] };
}

describe('the built console', () => {
  const manifestPath = join(DIST, '.vite', 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath} is missing: run npm run build`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, Chunk>;

  it('loads under 300 KB of compressed JavaScript on the first visit', (t) => {
    const { js } = firstLoad(manifest);
    assert.ok(js.length > 0, 'the manifest names an entry');
    let raw = 0;
    let gz = 0;
    let br = 0;
    for (const f of js) {
      const bytes = readFileSync(join(DIST, f));
      raw += bytes.length;
      gz += gzipSync(bytes, { level: 9 }).length;
      br += brotliCompressSync(bytes).length;
    }
    t.diagnostic(`first-load JS: ${js.length} file(s), ${raw} B raw, ${gz} B gzip, ${br} B brotli`);
    assert.ok(gz < BUDGET, `${gz} B of gzip-compressed JavaScript exceeds ${BUDGET} B`);
  });

  it('loads nothing from another origin: every script and style is under /ui/', () => {
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 2, 'the page names its script and its styles');
    // `data:,` (the empty icon that stops the browser asking for /favicon.ico) loads nothing.
    for (const r of refs.filter((x) => x !== 'data:,'))
      assert.match(r, /^\/ui\/assets\//, `${r} is not one of the console's own files`);
    for (const f of firstLoad(manifest).css) {
      const css = readFileSync(join(DIST, f), 'utf8');
      assert.doesNotMatch(
        css,
        /@import|url\(\s*['"]?(?:https?:)?\/\//,
        `${f} loads from elsewhere`,
      );
    }
  });
});
