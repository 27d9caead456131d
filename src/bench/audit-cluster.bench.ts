// npm run bench (audit-cluster part): the audit log shared by a cluster in PostgreSQL against the
// embedded log, in the same run: durable appends/s (an append is acknowledged once durable:
// fdatasync for SQLite, COMMIT with synchronous_commit on for PostgreSQL), how long until what
// was acknowledged is numbered and signed, and how long a new sequencer takes to take over when
// the current one's connection dies. Skipped, with the reason, without a PostgreSQL.

import { join } from 'node:path';
import pg from 'pg';
import { ClusterAuditLog } from '../audit/cluster/log.js';
import { connectionConfig, lockKeys } from '../audit/cluster/schema.js';
import { AuditLog } from '../audit/log.js';
import type { DecisionTrace } from '../core/engine.js';
import { exampleEngine, tempDir } from '../testing/fixtures.js';
import { postgresMissing, TEST_POSTGRES, throwawaySchema } from '../testing/services.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const N = quick ? 20_000 : 100_000;
const TAKEOVERS = quick ? 5 : 20;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Appender {
  append(t: DecisionTrace): Promise<unknown>;
}

let unique = 0;
/** Appends n records through the nodes in turn, in waves of concurrent appends; returns appends/s. */
async function fill(nodes: Appender[], templates: DecisionTrace[], n: number): Promise<number> {
  const t0 = performance.now();
  for (let done = 0; done < n; done += templates.length) {
    const wave = templates.slice(0, Math.min(templates.length, n - done));
    await Promise.all(
      wave.map((t, i) =>
        nodes[i % nodes.length]!.append({
          ...t,
          decision: { ...t.decision, decisionId: `${unique++}-${t.decision.decisionId}` },
        }),
      ),
    );
  }
  return n / ((performance.now() - t0) / 1000);
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function main() {
  const missing = await postgresMissing();
  if (missing) {
    console.log(`audit-cluster bench skipped: ${missing}`);
    return;
  }
  const engine = await exampleEngine();
  const templates = await Promise.all(
    Array.from({ length: 2000 }, () =>
      engine.trace({
        agent: 'ledger-bot',
        session: 'bench',
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'erp/read_ledger' },
        input: { query: 'select * from ledger where account = 42' },
      }),
    ),
  );
  const rows = ['| measure | value | note |', '|---|---:|---|'];

  const embedded = await AuditLog.open(await tempDir('cordon-acb-'));
  const sqliteRate = await fill([embedded], templates, N);
  await embedded.close();
  rows.push(
    `| durable appends/s, embedded (SQLite, sync full) | ${fmt(sqliteRate)} | ${fmt(N)} records, waves of 2,000 concurrent appends |`,
  );

  const schemas: { drop(): Promise<void> }[] = [];
  const keyFile = join(await tempDir('cordon-acb-key-'), 'audit.key');
  const cluster = async (nodes: number, opts: Partial<{ lockRetryMs: number }> = {}) => {
    const s = throwawaySchema('bench_audit');
    schemas.push(s);
    const out: ClusterAuditLog[] = [];
    for (let i = 0; i < nodes; i++)
      out.push(
        await ClusterAuditLog.open(
          { url: TEST_POSTGRES, schema: s.name },
          { dataDir: await tempDir('cordon-acb-node-'), signingKey: keyFile, ...opts },
        ),
      );
    return { nodes: out, schema: s.name };
  };

  try {
    for (const n of [1, 3]) {
      const c = await cluster(n);
      const rate = await fill(c.nodes, templates, N);
      const t0 = performance.now();
      await until(() => c.nodes.every((x) => x.checkpointedSize >= N));
      const drain = performance.now() - t0;
      rows.push(
        `| durable appends/s, PostgreSQL, ${n} node${n > 1 ? 's' : ''} in one process | ${fmt(rate)} | ${fmt(N)} records; every node saw them numbered and signed ${fmt(drain)} ms after the last acknowledgement |`,
      );
      await Promise.all(c.nodes.map((x) => x.close()));
    }

    // Takeover: the sequencer's connection is terminated (as when its node dies); measured until
    // a record appended just after is numbered and covered by a checkpoint on the other node.
    const c = await cluster(2, { lockRetryMs: 250 });
    const [k1, k2] = lockKeys(c.schema).sequencer;
    const admin = new pg.Client(connectionConfig({ url: TEST_POSTGRES, schema: c.schema }));
    await admin.connect();
    const times: number[] = [];
    for (let i = 0; i < TAKEOVERS; i++) {
      await until(() => c.nodes.some((x) => x.isSequencer));
      const old = c.nodes.find((x) => x.isSequencer)!;
      const other = c.nodes.find((x) => x !== old)!;
      const before = other.checkpointedSize;
      const t0 = performance.now();
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
           AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2 AND granted`,
        [k1, k2],
      );
      await fill([other], templates.slice(0, 1), 1);
      await until(() => other.checkpointedSize > before);
      times.push(performance.now() - t0);
    }
    await admin.end();
    await Promise.all(c.nodes.map((x) => x.close()));
    const t = percentiles(times);
    rows.push(
      `| sequencer takeover, p50 / max | ${fmt(t.p50)} / ${fmt(Math.max(...times))} ms | ${TAKEOVERS} takeovers: lock connection terminated until a new record is signed (lock retried every 250 ms) |`,
    );
  } finally {
    await Promise.all(schemas.map((s) => s.drop()));
  }
  console.log('\n## Audit log in PostgreSQL (cluster) vs embedded\n');
  console.log(rows.join('\n'));
}

await main();
