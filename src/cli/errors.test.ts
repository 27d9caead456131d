// What a person sees when a command fails on an ordinary mistake: one line naming what to do,
// exit 1, no stack trace (unless --debug). Each case runs the built CLI.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { describeError } from './errors.js';

const BIN = fileURLToPath(new URL('./main.js', import.meta.url));

function cordon(args: string[], opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 1 and a single `cordon: …` line on stderr matching `message`, with no stack frame. */
function assertOneLineError(r: ReturnType<typeof cordon>, message: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^cordon: /);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

async function busyPort(): Promise<{ port: number; close: () => void }> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as { port: number }).port, close: () => s.close() };
}

describe('CLI errors', () => {
  it('a --data directory that does not exist yet is created (0700) on first use', async () => {
    const data = join(await tempDir(), 'not', 'yet');
    const r = cordon(['token', 'issue', '--user', 'alice', '--agent', 'bot', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
    assert.equal(statSync(data).mode & 0o777, 0o700);
    // revoke opens a store before any key exists: the same holds there
    const other = join(await tempDir(), 'fresh');
    assert.equal(cordon(['token', 'revoke', '--agent', 'bot', '--data', other]).code, 0);
    assert.equal(statSync(other).mode & 0o777, 0o700);
  });

  it('a port in use is one line naming the address and what to do', async () => {
    const busy = await busyPort();
    try {
      const data = await tempDir();
      const args = ['serve', '--policies', EXAMPLE_POLICIES, '--data', data];
      const r = cordon([...args, '--port', String(busy.port)]);
      assertOneLineError(
        r,
        new RegExp(`127\\.0\\.0\\.1:${busy.port}: it is already in use.*another port`),
      );
      // --debug adds the stack trace below the same line
      const d = cordon([...args, '--port', String(busy.port), '--debug']);
      assert.equal(d.code, 1);
      assert.match(d.stderr, /^cordon: cannot listen on .*already in use/m);
      assert.match(d.stderr, /^\s+at /m);
    } finally {
      busy.close();
    }
  });

  it('mcp serve --listen on a port in use ends with one line, not a stack trace or a hang', async () => {
    const busy = await busyPort();
    try {
      const data = await tempDir();
      const r = cordon([
        ...['mcp', 'serve', '--listen', `http://127.0.0.1:${busy.port}`],
        ...['--policies', EXAMPLE_POLICIES, '--data', data, '--', process.execPath, '-e', '0'],
      ]);
      assert.equal(r.code, 1, r.stderr);
      // stdout is the protocol channel, so the gateway logs to stderr: the error is its last line.
      const last = r.stderr.trimEnd().split('\n').at(-1)!;
      assert.match(
        last,
        new RegExp(`^cordon: cannot listen on 127\\.0\\.0\\.1:${busy.port}: it is already in use`),
      );
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    } finally {
      busy.close();
    }
  });

  it('a request file that does not exist is one line naming it', () => {
    const r = cordon(['decide', '--policies', EXAMPLE_POLICIES, '--request', 'no-such.json']);
    assertOneLineError(r, /no-such\.json.*no such file or directory/);
  });

  it('a bad flag value is a config error naming the flag, not a validation dump', async () => {
    const r = cordon(['serve', '--policies', EXAMPLE_POLICIES, '--port', 'abc']);
    assertOneLineError(r, /the command line: port: /);
  });

  it("a config error keeps the schema's own message and the path", async () => {
    const dir = await tempDir();
    const file = join(dir, 'cordon.yaml');
    await writeFile(file, 'llm:\n  keys:\n    short: { agent: bot }\n');
    const r = cordon(['serve', '--config', file, '--policies', EXAMPLE_POLICIES]);
    assertOneLineError(r, /llm\.keys\.short: a gateway key needs at least 16 characters/);
  });
});

describe('describeError', () => {
  it('an error of no known kind is one line saying so and pointing at --debug', async () => {
    const e = new TypeError('x is undefined\nmore detail');
    assert.equal(
      await describeError(e, false),
      'unexpected error: x is undefined (run again with --debug for the stack trace, and please report it)',
    );
    assert.match(
      await describeError(e, true),
      /^unexpected error: TypeError: x is undefined\n.*\n\s+at /s,
    );
  });

  it('a user error of any subsystem is its message, found without loading the subsystem first', async () => {
    const { ConfigError } = await import('../config/config.js');
    assert.equal(
      await describeError(new ConfigError('cordon.yaml: port: too big'), false),
      'cordon.yaml: port: too big',
    );
    // Same class name, different class: not trusted as a user error.
    class ConfigError2 extends Error {}
    Object.defineProperty(ConfigError2, 'name', { value: 'ConfigError' });
    assert.match(
      await describeError(new ConfigError2('internal'), false),
      /^unexpected error: internal/,
    );
  });
});

describe('CLI start-up', () => {
  it('--help and --version load the command definitions only, no subsystem', async () => {
    const dir = await tempDir();
    const log = join(dir, 'loaded.txt');
    const hook = join(dir, 'hook.mjs');
    await writeFile(
      hook,
      `import { appendFileSync } from 'node:fs';
export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`,
    );
    const register = join(dir, 'register.mjs');
    await writeFile(
      register,
      `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hook).href)});`,
    );
    for (const args of [['--help'], ['--version'], ['policy', '--help']]) {
      await writeFile(log, '');
      const r = cordon(args, { nodeArgs: ['--import', register] });
      assert.equal(r.code, 0, r.stderr);
      const packages = new Set(
        readFileSync(log, 'utf8')
          .split('\n')
          .map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1])
          .filter((p): p is string => p !== undefined),
      );
      assert.deepEqual([...packages], ['commander'], `${args.join(' ')} loaded ${[...packages]}`);
    }
  });
});
