import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { EXAMPLE_POLICIES, tempDir } from './testing/fixtures.js';
import { loadedPackages } from './testing/loaded-packages.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Modules a program embedding the engine must not pay for. */
const HEAVY = [
  'fastify',
  'better-sqlite3',
  '@modelcontextprotocol/sdk',
  'pg',
  'ioredis',
  'prom-client',
  'chokidar',
  '@fastify/formbody',
];

/**
 * A consumer project: node_modules/cordon links to this checkout, so `import 'cordon'` resolves
 * through package.json `exports` exactly as for an installed package.
 */
async function consumer(): Promise<string> {
  const dir = await tempDir('cordon-consumer-');
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules', 'cordon'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  return dir;
}

/** Runs `body` (an ES module) in the consumer and returns the packages it loaded. */
async function loadedBy(
  dir: string,
  body: string,
): Promise<{ packages: Set<string>; out: string }> {
  const main = join(dir, `main-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(main, body);
  const { packages, stdout } = await loadedPackages([main], { cwd: dir });
  return { packages, out: stdout };
}

const loadedHeavy = (packages: Set<string>) => HEAVY.filter((p) => packages.has(p));

describe('the package entry', () => {
  it("'cordon' decides without loading the HTTP server, SQLite, PostgreSQL, Redis, the MCP SDK or Prometheus", async () => {
    const dir = await consumer();
    const { packages, out } = await loadedBy(
      dir,
      `import { createEngine } from 'cordon';
const engine = await createEngine({ policies: ${JSON.stringify(EXAMPLE_POLICIES)} });
const d = await engine.decide({ agent: 'ledger-bot', action: 'invokeTool', resource: { type: 'Tool', id: 'erp/read_ledger' } });
console.log(d.decision);`,
    );
    assert.equal(out.trim(), 'allow');
    assert.deepEqual(loadedHeavy(packages), []);
    // The detector sees what was loaded: the engine's own dependencies.
    assert.ok(packages.has('uuid'), [...packages].join(', '));
  });

  it("'cordon/sdk' loads neither the HTTP server nor SQLite until the embedded decision point is opened", async () => {
    const dir = await consumer();
    const { packages } = await loadedBy(
      dir,
      `import { guard, connectRemote, CordonDeniedError } from 'cordon/sdk';
const remote = connectRemote({ url: 'http://127.0.0.1:1', timeoutMs: 200 });
const f = guard(remote, () => 'ran', { action: 'invokeTool', resource: { type: 'Tool', id: 'x' }, agent: 'a' });
await f().catch((e) => { if (!(e instanceof CordonDeniedError)) throw e; });
await remote.close();`,
    );
    assert.deepEqual(loadedHeavy(packages), []);
    assert.ok(packages.has('undici'));
  });

  it('opening the embedded decision service loads its stores but never the HTTP server', async () => {
    const dir = await consumer();
    const data = join(dir, 'data');
    const { packages, out } = await loadedBy(
      dir,
      `import { openDecisionService } from 'cordon';
const service = await openDecisionService({ policies: ${JSON.stringify(EXAMPLE_POLICIES)}, data: ${JSON.stringify(data)} });
const d = await service.decide({ agent: 'ledger-bot', action: 'invokeTool', resource: { type: 'Tool', id: 'erp/read_ledger' } });
console.log(d.decision);
await service.close();`,
    );
    assert.equal(out.trim(), 'allow');
    // The positive control: the detector does see heavy modules when they load.
    assert.ok(packages.has('better-sqlite3'), [...packages].join(', '));
    assert.ok(!packages.has('fastify'), 'the embedded decision service loaded fastify');
    assert.ok(!packages.has('@modelcontextprotocol/sdk'));
  });

  it('resolves only through package exports: deep imports of internals are refused', async () => {
    const dir = await consumer();
    const main = join(dir, 'deep.mjs');
    await writeFile(main, `await import('cordon/dist/core/engine.js');`);
    await assert.rejects(run(process.execPath, [main], { cwd: dir }), (e: Error) => {
      assert.match(e.message, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
      return true;
    });
  });

  it('type-checks a consumer that imports cordon and cordon/sdk (moduleResolution nodenext)', async () => {
    const dir = await consumer();
    await writeFile(
      join(dir, 'app.ts'),
      `import { createEngine, type Decision, type ActionRequest, PolicyCompileError } from 'cordon';
import { guard, CordonDeniedError, type Decider } from 'cordon/sdk';
const request: ActionRequest = { agent: 'a', action: 'invokeTool', resource: { type: 'Tool', id: 't' } };
const engine = await createEngine({ policies: './policies' });
const d: Decision = await engine.decide(request);
const decider: Decider = engine;
const send = guard(decider, async (to: string) => to.length, { action: 'invokeTool', resource: { type: 'Tool', id: 'mail/send' } });
const n: number = await send('bob');
export { d, n, CordonDeniedError, PolicyCompileError };
`,
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['app.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', dir]).catch((e: { stdout: string }) => e);
    assert.equal((r as { stdout: string }).stdout.trim(), '');
  });

  it('never switches process-wide V8 flags in the host, even for a policy set large enough to need it', async () => {
    const dir = await consumer();
    const policies = join(dir, 'policies');
    await mkdir(policies);
    // Past ISOLATE_FROM_POLICIES: analyzed in a child process started with inlining off.
    await writeFile(
      join(policies, 'large.cedar'),
      Array.from(
        { length: 2500 },
        (_, i) =>
          `@id("p${i}")\npermit (principal == Agent::"a${i % 50}", action == Action::"invokeTool", resource == Tool::"t${i}");\n`,
      ).join('\n'),
    );
    await writeFile(
      join(policies, 'entities.json'),
      JSON.stringify(
        Array.from({ length: 50 }, (_, i) => ({
          uid: { type: 'Agent', id: `a${i}` },
          attrs: {},
          parents: [],
        })),
      ),
    );
    const main = join(dir, 'flags.mjs');
    await writeFile(
      main,
      `import v8 from 'node:v8';
const calls = [];
const real = v8.setFlagsFromString;
v8.setFlagsFromString = (f) => { calls.push(f); real(f); };
const { createEngine } = await import('cordon');
const small = await createEngine({ policies: ${JSON.stringify(EXAMPLE_POLICIES)} });
const large = await createEngine({ policies: ${JSON.stringify(policies)} });
const d = await large.decide({ agent: 'a7', action: 'invokeTool', resource: { type: 'Tool', id: 't2457' } });
const e = await large.decide({ agent: 'a8', action: 'invokeTool', resource: { type: 'Tool', id: 't2457' } });
console.log(JSON.stringify({ calls, allow: d.decision, deny: e.decision, small: typeof small.decide }));`,
    );
    const { stdout } = await run(process.execPath, [main], { cwd: dir });
    assert.deepEqual(JSON.parse(stdout), {
      calls: [],
      allow: 'allow',
      deny: 'deny',
      small: 'function',
    });
  });
});
