// npm run bench (part 2): the audit log. Durable appends/s with group commit, `verify` over a
// large log, proof latency, and what recording costs a decision (in process and over HTTP).

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { AUDIT_DB, AuditLog } from '../audit/log.js';
import { verifyLog } from '../audit/verify.js';
import type { DecisionTrace } from '../core/engine.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { EXAMPLE_POLICIES, exampleEngine, tempDir } from '../testing/fixtures.js';
import { waitForHttp } from '../testing/net.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const LARGE = quick ? 100_000 : 1_000_000;
const REQUEST = {
  agent: 'ledger-bot',
  session: 'bench',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
  input: { query: 'select * from ledger where account = 42' },
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Appends n records in waves of concurrent appends (as a busy server would); returns appends/s. */
async function fill(log: AuditLog, templates: DecisionTrace[], n: number): Promise<number> {
  const t0 = performance.now();
  for (let done = 0; done < n; done += templates.length) {
    const wave = templates.slice(0, Math.min(templates.length, n - done));
    await Promise.all(
      wave.map((t, i) =>
        log.append({
          ...t,
          decision: { ...t.decision, decisionId: `${done + i}-${t.decision.decisionId}` },
        }),
      ),
    );
  }
  return n / ((performance.now() - t0) / 1000);
}

async function main() {
  const engine = await exampleEngine();
  const templates = await Promise.all(Array.from({ length: 2000 }, () => engine.trace(REQUEST)));
  const rows: string[] = ['| measure | value | note |', '|---|---:|---|'];

  // 1. Throughput and a large log.
  const dir = await tempDir('cordon-audit-bench-');
  const log = await AuditLog.open(dir);
  const rate = await fill(log, templates, LARGE);
  await log.checkpoint();
  rows.push(
    `| durable appends/s (group commit, one shared fdatasync, sync full) | ${fmt(rate)} | ${fmt(LARGE)} records, waves of 2,000 concurrent appends |`,
  );
  const bytes =
    statSync(join(dir, AUDIT_DB)).size +
    (statSync(join(dir, `${AUDIT_DB}-wal`), { throwIfNoEntry: false })?.size ?? 0);
  rows.push(
    `| log size on disk | ${(bytes / LARGE).toFixed(0)} B/record | ${(bytes / 2 ** 20).toFixed(0)} MiB |`,
  );

  // 2. Proof latency on the large log.
  const ids = log.store.db
    .prepare('SELECT decision_id FROM records WHERE seq % 997 = 0')
    .pluck()
    .all() as string[];
  const proofTimes: number[] = [];
  for (const id of ids) {
    const t = performance.now();
    await log.proof(id);
    proofTimes.push((performance.now() - t) * 1000);
  }
  const proof = percentiles(proofTimes);
  rows.push(
    `| inclusion proof p50 / p99 | ${proof.p50.toFixed(0)} / ${proof.p99.toFixed(0)} µs | ${ids.length} proofs in a ${fmt(LARGE)}-record log |`,
  );

  // 3. verify over the whole log.
  const t0 = performance.now();
  const report = verifyLog(log.store, log.signer.key, log.origin);
  const verifySeconds = (performance.now() - t0) / 1000;
  if (!report.ok) throw new Error(`verify failed: ${JSON.stringify(report.problem)}`);
  rows.push(
    `| \`audit verify\`, ${fmt(LARGE)} records | ${verifySeconds.toFixed(1)} s | ${report.checkpoints} checkpoints, each checked for consistency |`,
  );
  await log.close();

  // 4. What the log adds to a decision, in process (one request at a time: each waits for its fsync).
  const metrics = new Metrics();
  const silent = pino({ level: 'silent' });
  const auditDir = await tempDir('cordon-audit-bench-');
  const withLog = await AuditLog.open(auditDir);
  const services = {
    without: new DecisionService(engine, metrics, silent),
    with: new DecisionService(engine, metrics, silent, withLog),
  };
  const lat: Record<string, number[]> = { without: [], with: [] };
  for (const k of ['without', 'with'] as const) {
    for (let i = 0; i < (quick ? 500 : 3000); i++) {
      const t = performance.now();
      await services[k].decide(REQUEST);
      lat[k]!.push((performance.now() - t) * 1000);
    }
  }
  await withLog.close();
  const [off, on] = [percentiles(lat.without!), percentiles(lat.with!)];
  rows.push(
    `| in-process decide without / with the log, p50 | ${off.p50.toFixed(0)} / ${on.p50.toFixed(0)} µs | sequential: every decision waits for its own commit and fdatasync |`,
  );
  rows.push(
    `| in-process decide without / with the log, p99 | ${off.p99.toFixed(0)} / ${on.p99.toFixed(0)} µs | |`,
  );

  // 5. Over HTTP under load: one server process, audit off and on.
  for (const enabled of [false, true]) {
    const d = await tempDir('cordon-audit-http-');
    await writeFile(
      join(d, 'cordon.yaml'),
      `policies: ${EXAMPLE_POLICIES}\ndata: ${join(d, 'data')}\nwatch: false\nlog: { level: warn }\naudit: { enabled: ${enabled} }\n`,
    );
    const bin = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    const port = enabled ? 7395 : 7394;
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--config', join(d, 'cordon.yaml'), '--port', String(port)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    try {
      await waitForHttp(`http://127.0.0.1:${port}/healthz`);
      const r = await autocannon({
        url: `http://127.0.0.1:${port}/v1/decide`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(REQUEST),
        connections: 16,
        duration: quick ? 3 : 10,
      });
      rows.push(
        `| HTTP \`/v1/decide\`, audit ${enabled ? 'on' : 'off'} | ${fmt(r.requests.average)} req/s | p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${r.errors + r.non2xx} errors |`,
      );
    } finally {
      child.kill('SIGTERM');
    }
  }

  // The million-record log is over a gigabyte: do not leave it behind.
  await rm(dir, { recursive: true, force: true });
  console.log('\n## Audit log\n');
  console.log(rows.join('\n'));
}

await main();
