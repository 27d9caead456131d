import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { AuditLog } from '../../audit/log.js';
import { MemoryBaselineStore } from '../../risk/baseline-memory-store.js';
import { BaselineService } from '../../risk/baseline-service.js';
import { baselineLearner, baselineStage } from '../../risk/baseline-stage.js';
import { testAuth } from '../../testing/auth.js';
import { exampleEngine, tempDir } from '../../testing/fixtures.js';
import { buildApp } from './app.js';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';

const BIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

let app: FastifyInstance;
let audit: AuditLog;
let base: string;
let credential: string;

/** Runs the CLI against the test server (async: the server answers in this process). */
function cordon(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--url', base], {
      env: { ...process.env, CORDON_CREDENTIAL: credential },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

before(async () => {
  const data = await tempDir('cordon-baseline-http-');
  audit = await AuditLog.open(data);
  const metrics = new Metrics();
  const logger = pino({ level: 'silent' });
  const baselines = new BaselineService({ store: new MemoryBaselineStore() });
  const decisions = new DecisionService(
    await exampleEngine({ stages: [baselineStage(baselines)] }),
    metrics,
    logger,
    audit,
  );
  decisions.afterEffects.push(baselineLearner(baselines));
  const t = testAuth();
  credential = t.admin.authorization.slice('Bearer '.length);
  app = buildApp({ decisions, metrics, logger, auth: t.auth, baselines });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
after(async () => {
  await app.close();
  await audit.close();
});

async function post(host: string): Promise<string> {
  const res = await fetch(`${base}/v1/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      agent: 'support-bot',
      action: 'sendExternal',
      resource: { type: 'NetworkDestination', id: `${host}:443` },
    }),
  });
  return ((await res.json()) as { decision: string }).decision;
}

describe('cordon baseline show|mode|reset|suggest through the control API', () => {
  it('needs an authenticated caller, and an unknown agent is an error', async () => {
    assert.equal((await fetch(`${base}/v1/baselines/support-bot`)).status, 401);
    const r = await cordon('baseline', 'show', 'no-such-agent');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /agent no-such-agent is not listed in entities\.json/);
    const bad = await cordon('baseline', 'mode', 'support-bot', 'strict');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /mode must be one of learn, monitor, enforce/);
  });

  it('learns, resets, suggests valid policies with a what-if count, and enforces', async () => {
    for (const host of ['old.example.com', 'old.example.com'])
      assert.equal(await post(host), 'allow');
    const reset = await cordon('baseline', 'reset', 'support-bot');
    assert.equal(reset.status, 0, reset.stderr);
    assert.match(reset.stdout, /support-bot: baseline forgotten/);
    for (let i = 0; i < 3; i++) assert.equal(await post('hooks.example.com'), 'allow');

    const shown = await cordon('baseline', 'show', 'support-bot');
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /mode: learn \(default\)/);
    assert.match(shown.stdout, /destination:\n\s+3\s+hooks\.example\.com:443/);
    assert.doesNotMatch(shown.stdout, /old\.example/);

    const s = await cordon('baseline', 'suggest', 'support-bot');
    assert.equal(s.status, 0, s.stderr);
    assert.match(
      s.stdout,
      /permit \(\n {2}principal == Agent::"support-bot",\n {2}action in \[Action::"connectNetwork", Action::"httpRequest", Action::"sendExternal"\],\n {2}resource is NetworkDestination\n\)\nwhen { resource in \[NetworkDestination::"hooks\.example\.com:443"\] };/,
    );
    assert.match(s.stdout, /valid against the serving schema/);
    // Five decisions of support-bot recorded; the two posts to the host forgotten by the reset
    // are the ones the suggested policies would refuse.
    assert.match(s.stdout, /of 5 recorded decisions of support-bot, 2 would flip/);
    assert.match(s.stdout, /allow → deny: 2/);
    const json = JSON.parse(
      (await cordon('baseline', 'suggest', 'support-bot', '--json')).stdout,
    ) as {
      whatif: { total: number; flipped: number };
    };
    assert.deepEqual([json.whatif.total, json.whatif.flipped], [5, 2]);

    const mode = await cordon('baseline', 'mode', 'support-bot', 'enforce');
    assert.equal(mode.status, 0, mode.stderr);
    assert.match(mode.stdout, /support-bot: learn → enforce \(by cordon-admin\)/);
    assert.equal(await post('hooks.example.com'), 'allow');
    assert.equal(await post('old.example.com'), 'require_approval');

    // The change is an audit record: who asked to set which mode, and that it was allowed.
    const records = audit.store
      .query({})
      .map((r) => JSON.parse(r.record) as Record<string, unknown>);
    const change = records.find(
      (r) => r.action === 'manageBaseline' && r.inputDigest !== undefined,
    );
    assert.ok(change, 'the mode change was decided and recorded');
    assert.equal(change.decision, 'allow');
    assert.equal(change.user, 'cordon-admin');
  });
});

describe('a baseline store that fails', () => {
  it('is a 503 that says so, not an internal error', async () => {
    class DownStore extends MemoryBaselineStore {
      override get(): Promise<never> {
        return Promise.reject(new Error('connection refused'));
      }
    }
    const metrics = new Metrics();
    const logger = pino({ level: 'silent' });
    const baselines = new BaselineService({ store: new DownStore() });
    const decisions = new DecisionService(await exampleEngine(), metrics, logger);
    const t = testAuth();
    const down = buildApp({ decisions, metrics, logger, auth: t.auth, baselines });
    try {
      const res = await down.inject({ url: '/v1/baselines/support-bot', headers: t.admin });
      assert.equal(res.statusCode, 503);
      assert.match(
        (res.json() as { error: string }).error,
        /the baseline store cannot be used: connection refused/,
      );
    } finally {
      await down.close();
    }
  });
});
