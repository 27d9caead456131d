// Helper processes for the benches (a provider, a proxy, a server, a gateway): node running a
// script, ready once it prints its first line (its URL or port) or once it answers HTTP at a
// given URL. A helper that exits, fails or is not ready in time is killed and the start throws.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { waitForHttp } from '../testing/net.js';

/** A script of ../testing, built (bare-proxy.js, llm-upstream-main.js, stdio-relay.js, …). */
export const testingScript = (file: string): string =>
  fileURLToPath(new URL(`../testing/${file}`, import.meta.url));

export interface Helper {
  child: ChildProcess;
  /** The first line the helper printed; with `readyUrl`, that URL. */
  line: string;
  /** SIGTERM (SIGKILL after 5 s), and waits for the process to exit. */
  stop(): Promise<void>;
}

export interface HelperOptions {
  /** Ready once this URL answers HTTP (the helper's stdout is then ignored). */
  readyUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** The helper's stderr: shown (the default) or dropped. */
  stderr?: 'inherit' | 'ignore';
  timeoutMs?: number;
}

/** The first line of `out`; what comes after it is read and dropped. */
function firstLine(out: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      out.off('data', onData);
      out.resume();
      resolve(text.slice(0, nl).trim());
    };
    out.on('data', onData);
  });
}

/** `node ...args` as a helper process, returned once it is ready. */
export async function startHelper(args: string[], o: HelperOptions = {}): Promise<Helper> {
  const ms = o.timeoutMs ?? 10_000;
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', o.readyUrl === undefined ? 'pipe' : 'ignore', o.stderr ?? 'inherit'],
    env: o.env ?? process.env,
  });
  const stop = async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const hard = setTimeout(() => child.kill('SIGKILL'), 5000);
    try {
      await exited;
    } finally {
      clearTimeout(hard);
    }
  };
  const what = args.slice(0, 2).join(' ');
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`${what} exited (${signal ?? code}) before it was ready`)),
    );
    timer = setTimeout(() => reject(new Error(`${what} was not ready within ${ms} ms`)), ms);
  });
  const ready =
    o.readyUrl === undefined
      ? firstLine(child.stdout!)
      : waitForHttp(o.readyUrl, ms).then(() => o.readyUrl!);
  try {
    const line = await Promise.race([ready, failed]);
    return { child, line, stop };
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
