// Local network helpers for tests and benchmarks: a free loopback port, and waiting for a
// server that another process is starting.

import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers HTTP at `url` (any status); throws after `ms`. */
export async function waitForHttp(url: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > until) throw new Error(`${url} did not start within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
