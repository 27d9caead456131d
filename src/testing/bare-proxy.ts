// The floor for any Node.js gateway, for the benches: an HTTP proxy with no logic at all. It
// forwards every request (method, path, headers, body) to one upstream with undici, on
// keep-alive connections, and streams the answer back as it comes. Run as its own process:
// `node bare-proxy.js <upstream base URL>` prints its own URL and runs until killed.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';

const target = new URL(process.argv[2]!);
const agent = new Agent({ keepAliveTimeout: 30_000 });
const HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

const server = createServer((req, res) => {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (!HOP.has(k) && typeof v === 'string') headers[k] = v;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  request(new URL(req.url!, target), {
    method: req.method as 'GET',
    headers,
    body: hasBody ? req : null,
    dispatcher: agent,
  }).then(
    (up) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(up.headers))
        if (!HOP.has(k) && typeof v === 'string') out[k] = v;
      res.writeHead(up.statusCode, out);
      up.body.on('data', (d: Buffer) => res.write(d));
      up.body.on('end', () => res.end());
      up.body.on('error', () => res.destroy());
    },
    () => {
      res.writeHead(502).end();
    },
  );
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
