// End to end, as a user runs it: `cordon serve` holds the isolation state, `cordon run --follow`
// runs an agent in another process, and `cordon isolate bot --no-egress` (a third process)
// takes the running agent's egress away: its next direct connect gets EPERM and the proxy
// refuses naming the isolation; `cordon release` gives it back; `cordon isolate --full` kills
// it. Prints the time from the isolation command to the first refused connect (p50 of 5).

import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../config/config.js';
import { startServer, type RunningServer } from '../runtime/start.js';
import { readAdminCredential } from '../identity/credentials.js';
import { agent, entities, tempDir, writeTree } from '../testing/fixtures.js';
import {
  AGENT,
  controlAt,
  heldUpstream,
  liveEgressMissing,
  type Control,
} from '../testing/sandbox-agent.js';

const BIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const run = promisify(execFile);

const SKIP = liveEgressMissing();
if (SKIP) process.stdout.write(`# cordon run isolation (CLI) tests skipped: ${SKIP}\n`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('cordon run under cordon isolate (three processes)', { skip: SKIP }, () => {
  let dir: string;
  let server: RunningServer;
  let upstream: { port: number; close(): void };
  let port: number;

  before(async () => {
    dir = await tempDir('cordon-run-isolate-');
    upstream = await heldUpstream();
    port = upstream.port;
    await writeTree(join(dir, 'policies'), {
      'p.cedar': `
        permit(principal, action == Action::"connectNetwork", resource) when { ip(resource.host).isInRange(ip("127.0.0.1/32")) };
        permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "localhost" };
        permit(principal in Role::"cordon-admin", action in [Action::"isolate", Action::"readIsolation"], resource);`,
      'entities.json': entities([agent('bot', [], { risk_level: 'low' })]),
    });
    server = await startServer(
      configSchema.parse({
        policies: join(dir, 'policies'),
        data: join(dir, 'serve'),
        port: 0,
        watch: false,
        log: { level: 'silent' },
      }),
    );
  });

  after(async () => {
    upstream.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const url = () => `http://127.0.0.1:${server.port}`;
  const cli = (...args: string[]) =>
    run(process.execPath, [BIN, ...args, '--url', url(), '--data', join(dir, 'serve')]);

  /** `cordon run --follow` of the agent, in its own process and data directory. */
  async function cordonRun(): Promise<{ ctl: Control; child: ChildProcess; stderr: () => string }> {
    const ctlPath = join(dir, 'ctl.sock');
    await rm(ctlPath, { force: true });
    const ctl = await controlAt(ctlPath);
    const child = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--agent',
        'bot',
        '--policies',
        join(dir, 'policies'),
        '--data',
        join(dir, 'run'),
        '--follow',
        url(),
        '--follow-data',
        join(dir, 'serve'),
        '--',
        process.execPath,
        '-e',
        AGENT,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CTL: ctlPath } },
    );
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    return { ctl, child, stderr: () => err };
  }

  it('loses egress within the next polls after `cordon isolate --no-egress`, gets it back after `cordon release`, and is killed by `--full`', async () => {
    const { ctl, child, stderr } = await cordonRun();
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      assert.equal(await ctl.ask(`connect 127.0.0.1 ${port}`), 'ok');
      assert.equal(await ctl.ask(`proxy localhost:${port}`), '200');
      // The CLI commands, as a user types them.
      await cli('isolate', 'bot', '--no-egress', '--reason', 'exfil drill');
      assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^EPERM$/), 'EPERM');
      const refused = await ctl.until(`proxy localhost:${port}`, /^403 /);
      assert.match(refused, /"error":"forbidden by isolation"/);
      assert.match(refused, /agent bot is isolated \(no egress\) by [^:]+: exfil drill/);
      await cli('release', 'bot', '--reason', 'drill over');
      assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^ok$/), 'ok');
      assert.equal(await ctl.until(`proxy localhost:${port}`, /^200$/), '200');

      // The time it takes, from the isolation request (POST /v1/isolation, what the command
      // sends; a CLI process start on a loaded machine would dominate) to the first refusal.
      const times: number[] = [];
      const afterApplied: number[] = [];
      const admin = `Bearer ${await readAdminCredential(join(dir, 'serve'))}`;
      const api = (path: string, body: unknown) =>
        fetch(`${url()}${path}`, {
          method: 'POST',
          headers: { authorization: admin, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then((r) => assert.ok(r.ok, `${path}: ${r.status}`));
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await api('/v1/isolation', { agent: 'bot', measures: { egress: 'none' }, reason: 'timed' });
        const t1 = performance.now();
        assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^EPERM$/, 2), 'EPERM');
        times.push(performance.now() - t0);
        afterApplied.push(performance.now() - t1);
        await api('/v1/isolation/release', { agent: 'bot' });
        assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^ok$/), 'ok');
      }
      process.stdout.write(
        `# isolation request → first refused connect in the running sandbox: p50 ${median(times).toFixed(0)} ms (${times.map((x) => x.toFixed(0)).join(', ')}); after the request returned: p50 ${median(afterApplied).toFixed(0)} ms\n`,
      );

      await cli('isolate', 'bot', '--full', '--reason', 'compromised');
      assert.equal(await exited, 137, stderr());
      assert.match(stderr(), /full isolation: \d+ process\(es\) of the sandbox killed/);
    } finally {
      ctl.close();
      child.kill('SIGKILL');
    }
  });
});
