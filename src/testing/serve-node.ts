// A `cordon serve` process for tests and benches that need real separate nodes (the cluster test,
// the cluster bench): written a cordon.yaml in a fresh data directory, started with the CLI, and
// ready once it logs "cordon serving" (its port and the audit log's verifier key come from that
// line). SIGKILL-able like any node in production.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { adminHeader } from './auth.js';
import { EXAMPLE_POLICIES, tempDir } from './fixtures.js';
import { CORDON_CLI } from './mcp.js';

export interface ServeNode {
  name: string;
  url: string;
  data: string;
  proc: ChildProcess;
  /** The audit log's verifier key, as the node logged it at start. */
  verifierKey: string;
  /** The node's own admin credential (each node keeps one in its data directory). */
  admin: { authorization: string };
  /** SIGTERM, and waits for the exit (nothing to do when it already ended). */
  stop(): Promise<void>;
}

export interface ServeNodeOptions {
  /** cordon.yaml's storage section; absent: the embedded stores in the data directory. */
  storage?: { postgres: string; redis?: string; schema?: string };
  /** The checkpoint signing key every node of one shared log uses. */
  signingKey?: string;
  /** Other cordon.yaml keys. */
  config?: Record<string, unknown>;
}

export async function startServeNode(name: string, o: ServeNodeOptions = {}): Promise<ServeNode> {
  const data = await tempDir(`cordon-node-${name}-`);
  const file = join(data, 'cordon.yaml');
  await writeFile(
    file,
    stringify({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      watch: false,
      log: { level: 'info' },
      ...(o.storage ? { storage: o.storage } : {}),
      ...(o.signingKey ? { audit: { signingKey: o.signingKey } } : {}),
      ...o.config,
    }),
  );
  const proc = spawn(process.execPath, [CORDON_CLI, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const lines = createInterface({ input: proc.stdout! });
  const { port, key } = await new Promise<{ port: number; key: string }>((resolve, reject) => {
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number; audit?: { key: string } };
        if (entry.msg === 'cordon serving') resolve({ port: entry.port!, key: entry.audit!.key });
      } catch {
        /* not a log line */
      }
    });
    proc.once('exit', (code) =>
      reject(new Error(`node ${name} exited (${code}) before serving: ${stderr.join('')}`)),
    );
  });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    data,
    proc,
    verifierKey: key,
    admin: await adminHeader(data),
    async stop() {
      if (!running()) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}
