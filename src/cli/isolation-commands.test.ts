import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { startServer, type RunningServer } from '../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { CORDON_CLI } from '../testing/mcp.js';

let server: RunningServer;
let data: string;

before(async () => {
  data = await tempDir('cordon-iso-cli-');
  server = await startServer(
    configSchema.parse({
      policies: EXAMPLE_POLICIES,
      data,
      port: 0,
      watch: false,
      log: { level: 'silent' },
    }),
    pino({ level: 'silent' }),
  );
});
after(() => server.close());

/** The CLI as a user runs it, against the running server (asynchronously: it serves in this process). */
const cordon = (...args: string[]) =>
  new Promise<{ code: number; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, [CORDON_CLI, ...args, '--url', server.url, '--data', data]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });

describe('cordon isolate, release, isolation list', () => {
  it('isolates, lists and releases an agent', async () => {
    const applied = await cordon(
      'isolate',
      'analyst-bot',
      '--no-egress',
      '--revoke-tool',
      'erp/*',
      '--until',
      '2h',
      '--reason',
      'beaconing to a paste site',
    );
    assert.equal(applied.code, 0, applied.err);
    assert.match(
      applied.out,
      /^isolated analyst-bot: no egress; revoked: erp\/\* \(by cordon-admin at .*, until .*\): beaconing to a paste site/,
    );
    const listed = await cordon('isolation', 'list');
    assert.match(listed.out, /^analyst-bot: no egress; revoked: erp\/\*/);
    const json = JSON.parse(
      (await cordon('isolation', 'list', '--json', '--agent', 'analyst-bot')).out,
    ) as {
      isolations: { measures: unknown }[];
    };
    assert.deepEqual(json.isolations[0]?.measures, { revokedTools: ['erp/*'], egress: 'none' });
    const released = await cordon('release', 'analyst-bot', '--reason', 'resolved');
    assert.equal(released.code, 0, released.err);
    assert.match(released.out, /^released analyst-bot: no egress/);
    assert.match((await cordon('isolation', 'list')).out, /no isolation in force/);
  });

  it('refuses an unknown agent, a missing reason, nothing to take away, and a release of nothing', async () => {
    const ghost = await cordon('isolate', 'ghost', '--full', '--reason', 'x');
    assert.equal(ghost.code, 1);
    assert.match(ghost.err, /unknown agent "ghost": it is not in entities.json/);
    const noReason = await cordon('isolate', 'analyst-bot', '--full');
    assert.notEqual(noReason.code, 0);
    assert.match(noReason.err, /--reason/);
    const nothing = await cordon('isolate', 'analyst-bot', '--reason', 'x');
    assert.equal(nothing.code, 1);
    assert.match(nothing.err, /say what to take away/);
    const none = await cordon('release', 'analyst-bot');
    assert.equal(none.code, 1);
    assert.match(none.err, /agent "analyst-bot" has no isolation in force/);
    assert.match((await cordon('isolation', 'list')).out, /no isolation in force/);
  });
});
