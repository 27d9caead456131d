// Serves the built console (ui/dist) at /ui/: files only from inside that directory (no `..`, no
// links leading out), content types by extension, a strict Content-Security-Policy (scripts,
// styles and connections to this origin only; no framing), long caching for Vite's hashed
// assets and revalidation for the rest, gzip or brotli for text when the browser takes it.
// A path with no extension is a client-side route: it gets index.html.

import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` of the UI puts the console, relative to this module in dist/. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../../ui/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const COMPRESSIBLE = /^(text\/|application\/(json|manifest\+json)|image\/svg)/;

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
}

function securityHeaders(reply: FastifyReply): void {
  void reply.headers({
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  });
}

/** Whether the path asks for a file (has an extension) rather than a client-side route. */
const isFilePath = (p: string) => extname(p) !== '';

export function registerStaticRoutes(app: FastifyInstance, uiDir: string = DEFAULT_UI_DIR): void {
  const publicRoute = { config: { auth: 'public' as const } };
  const cache = new Map<string, Cached>();
  let root: string | undefined;

  /** The real path of a file inside the UI directory, or undefined. */
  async function fileFor(rel: string): Promise<string | undefined> {
    root ??= await realpath(uiDir).catch(() => undefined);
    if (!root) return undefined;
    const full = resolve(root, rel);
    if (full !== root && !full.startsWith(root + sep)) return undefined;
    const real = await realpath(full).catch(() => undefined);
    if (!real || !real.startsWith(root + sep)) return undefined;
    const st = await stat(real).catch(() => undefined);
    return st?.isFile() ? real : undefined;
  }

  async function load(file: string): Promise<Cached> {
    const st = await stat(file);
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const entry: Cached = { mtimeMs: st.mtimeMs, size: st.size, body: await readFile(file) };
    cache.set(file, entry);
    return entry;
  }

  async function send(req: FastifyRequest, reply: FastifyReply, file: string, immutable: boolean) {
    const entry = await load(file);
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    securityHeaders(reply);
    void reply
      .type(type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('vary', 'accept-encoding');
    const accepts = String(req.headers['accept-encoding'] ?? '');
    if (COMPRESSIBLE.test(type) && entry.body.length > 1024) {
      if (/\bbr\b/.test(accepts)) {
        entry.br ??= brotliCompressSync(entry.body, {
          params: { [zlib.BROTLI_PARAM_QUALITY]: 9 },
        });
        return reply.header('content-encoding', 'br').send(entry.br);
      }
      if (/\bgzip\b/.test(accepts)) {
        entry.gzip ??= gzipSync(entry.body, { level: 9 });
        return reply.header('content-encoding', 'gzip').send(entry.gzip);
      }
    }
    return reply.send(entry.body);
  }

  const notBuilt = (reply: FastifyReply) =>
    reply
      .code(503)
      .type('text/plain; charset=utf-8')
      .send(
        `The web console is not built: ${uiDir} is missing. Build it from a source checkout (npm run build), or use the HTTP API and CLI.\n`,
      );

  app.get('/', publicRoute, async (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui', publicRoute, async (_req, reply) => reply.redirect('/ui/', 301));

  app.get<{ Params: { '*': string } }>('/ui/*', publicRoute, async (req, reply) => {
    const rel = req.params['*'];
    // Fastify hands the path decoded: refuse what could climb out or confuse the file system.
    if (rel.includes('\0') || rel.includes('\\') || rel.split('/').includes('..'))
      return reply.code(400).send({ error: 'bad path' });
    const index = await fileFor('index.html');
    if (!index) return notBuilt(reply);
    if (rel === '' || !isFilePath(rel)) return send(req, reply, index, false);
    const file = await fileFor(rel);
    if (!file) return reply.code(404).send({ error: `no file /ui/${rel}` });
    return send(req, reply, file, rel.startsWith('assets/'));
  });
}
