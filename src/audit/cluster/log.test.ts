import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { DecisionService } from '../../decision/service.js';
import { Metrics } from '../../decision/metrics.js';
import { REQUESTS } from '../../testing/audit-log.js';
import { exampleEngine, tempDir } from '../../testing/fixtures.js';
import { postgresMissing, TEST_POSTGRES, throwawaySchema } from '../../testing/services.js';
import { checkInclusionBundle } from '../check-proof.js';
import { AuditLogError } from '../log.js';
import { replaySession } from '../replay.js';
import { verifyStore } from '../verify.js';
import { ClusterAuditLog, fencedCheckpointInsert, type ClusterAuditOptions } from './log.js';
import { connectionConfig, lockKeys, openPgReader } from './schema.js';

const skip = await postgresMissing();
if (skip) console.log(`# skipping the cluster audit log tests: ${skip}`);

const schemas: { drop(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

/** A fresh schema and a signing key file that every node of the test shares. */
async function cluster(label: string) {
  const schema = throwawaySchema(`audit_${label}`);
  schemas.push(schema);
  const keyDir = await tempDir('cordon-cluster-key-');
  const target = { url: TEST_POSTGRES, schema: schema.name };
  const signingKey = join(keyDir, 'audit.key');
  const nodes: ClusterAuditLog[] = [];
  const errors: string[] = [];
  const open = async (opts: Partial<ClusterAuditOptions> = {}, url = TEST_POSTGRES) => {
    const node = await ClusterAuditLog.open(
      { url, schema: schema.name },
      {
        dataDir: await tempDir('cordon-cluster-node-'),
        signingKey,
        checkpointIntervalMs: 50,
        lockRetryMs: 100,
        onError: (e) => errors.push(e.message),
        ...opts,
      },
    );
    nodes.push(node);
    return node;
  };
  const sql = async <T extends pg.QueryResultRow>(text: string, args: unknown[] = []) => {
    const c = new pg.Client(connectionConfig(target));
    await c.connect();
    try {
      return (await c.query<T>(text, args)).rows;
    } finally {
      await c.end();
    }
  };
  const verify = async (node: ClusterAuditLog) => {
    const reader = await openPgReader(target);
    try {
      return await verifyStore(reader, node.signer.key, node.origin);
    } finally {
      await reader.close();
    }
  };
  const closeAll = () => Promise.all(nodes.map((n) => n.close().catch(() => {})));
  return { target, signingKey, open, sql, verify, errors, closeAll };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Appends `rounds` batches of 20 decisions through `node`; returns the acknowledged ids. */
async function load(node: ClusterAuditLog, rounds: number): Promise<string[]> {
  const engine = await exampleEngine();
  const ids: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const traces = await Promise.all(
      Array.from({ length: 20 }, (_, k) => engine.trace(REQUESTS[(i + k) % REQUESTS.length]!)),
    );
    await Promise.all(
      traces.map(async (t) => {
        await node.append(t);
        ids.push(t.decision.decisionId);
      }),
    );
  }
  return ids;
}

const BIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const cordon = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

const sequencer = (nodes: ClusterAuditLog[]) => nodes.find((n) => n.isSequencer);

describe('the cluster audit log in PostgreSQL', { skip }, () => {
  it('two nodes appending concurrently build one tree that verifies, and either proves any record', async () => {
    const c = await cluster('two');
    try {
      const a = await c.open();
      const b = await c.open();
      const [fromA, fromB] = await Promise.all([load(a, 6), load(b, 6)]);
      // A record b wrote, proved by a, and the other way round, against the one signed tree.
      const pa = await a.proof(fromB.at(-1)!);
      const pb = await b.proof(fromA.at(-1)!);
      for (const p of [pa, pb]) {
        assert.ok(p);
        assert.deepEqual(checkInclusionBundle(p, a.signer.key), {
          ok: true,
          index: p.index,
          treeSize: p.treeSize,
        });
      }
      assert.equal(a.verifierKey, b.verifierKey);
      const report = await c.verify(a);
      assert.equal(report.ok, true, report.problem?.message);
      assert.equal(report.records, 240);
      const stored = await c.sql<{ decision_id: string }>('SELECT decision_id FROM audit_records');
      assert.deepEqual(new Set(stored.map((r) => r.decision_id)), new Set([...fromA, ...fromB]));
      // Exactly one sequencer signed, so checkpoints grow strictly and all verify (above).
      assert.equal([a, b].filter((n) => n.isSequencer).length, 1);
      assert.equal(await a.proof('no-such-decision'), undefined);
    } finally {
      await c.closeAll();
    }
  });

  it('replay finds the policy set a record was made under, read from PostgreSQL', async () => {
    const c = await cluster('replay');
    try {
      const a = await c.open();
      const ids = await load(a, 1);
      await a.proof(ids.at(-1)!); // sequenced
      const reader = await openPgReader(c.target);
      try {
        const { results, failures } = await replaySession(reader, 's1');
        assert.deepEqual(failures, []);
        assert.ok(results.length > 0);
        assert.ok(results.every((r) => r.reproduces));
      } finally {
        await reader.close();
      }
    } finally {
      await c.closeAll();
    }
  });

  it('the sequencer numbers the record itself, not a "seq" inside its recorded input', async () => {
    const c = await cluster('seq');
    try {
      const a = await c.open({ recordInput: true });
      const engine = await exampleEngine();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const t = await engine.trace({ ...REQUESTS[0]!, input: { seq: 0, a: { seq: 0 } } });
        await a.append(t);
        ids.push(t.decision.decisionId);
      }
      const p = (await a.proof(ids[2]!))!;
      assert.equal(p.record.seq, p.index);
      assert.deepEqual(p.record.input, { seq: 0, a: { seq: 0 } });
      assert.equal((await c.verify(a)).ok, true);
    } finally {
      await c.closeAll();
    }
  });

  it('a sequencer whose node is killed (SIGKILL) mid-load is replaced, and nothing acknowledged is lost', async () => {
    const c = await cluster('kill');
    const script = new URL('../../testing/cluster-audit-writer.js', import.meta.url);
    const child = spawn(
      process.execPath,
      [script.pathname, c.target.url, c.target.schema, await tempDir('cordon-cw-'), c.signingKey],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const acked: string[] = [];
    let isSequencer = false;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === 'sequencer') isSequencer = true;
        else if (l) acked.push(l);
      }
    });
    try {
      await waitFor('the child to become the sequencer', () => isSequencer);
      const b = await c.open();
      const loadB = load(b, 10);
      await waitFor('300 acknowledged appends in the child', () => acked.length >= 300);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await waitFor('the surviving node to take over', () => b.isSequencer);
      const fromB = await loadB;
      await b.proof(fromB.at(-1)!);
      const stored = new Set(
        (await c.sql<{ decision_id: string }>('SELECT decision_id FROM audit_records')).map(
          (r) => r.decision_id,
        ),
      );
      const lost = [...acked, ...fromB].filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], 'every acknowledged record is in the log');
      const report = await c.verify(b);
      assert.equal(report.ok, true, report.problem?.message);
    } finally {
      child.kill('SIGKILL');
      await c.closeAll();
    }
  });

  it('a sequencer whose connection is terminated is replaced while both nodes keep appending', async () => {
    const c = await cluster('term');
    try {
      const nodes = [await c.open(), await c.open()];
      await waitFor('a sequencer', () => sequencer(nodes) !== undefined);
      const [k1, k2] = lockKeys(c.target.schema).sequencer;
      const loads = nodes.map((n) => load(n, 8));
      await new Promise((r) => setTimeout(r, 100));
      const killed = await c.sql<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory'
           AND classid::int8 = $1 AND objid::int8 = $2 AND objsubid = 2 AND granted`,
        [k1, k2],
      );
      assert.deepEqual(killed, [{ ok: true }]);
      const ids = (await Promise.all(loads)).flat();
      await waitFor('a new sequencer', () => sequencer(nodes) !== undefined);
      const bundle = await nodes[0]!.proof(ids.at(-1)!);
      assert.ok(bundle);
      const report = await c.verify(nodes[0]!);
      assert.equal(report.ok, true, report.problem?.message);
      assert.equal(report.records, ids.length);
      assert.ok(c.errors.length > 0, 'the lost lock is reported');
    } finally {
      await c.closeAll();
    }
  });

  it('a connection that does not hold the sequencer lock cannot insert a checkpoint (fencing)', async () => {
    const c = await cluster('fence');
    try {
      const a = await c.open();
      const ids = await load(a, 1);
      await a.proof(ids.at(-1)!);
      const keys = lockKeys(c.target.schema);
      const intruder = new pg.Client(connectionConfig(c.target));
      await intruder.connect();
      try {
        const newest = Number(
          (await intruder.query<{ m: string }>('SELECT max(size) AS m FROM audit_checkpoints'))
            .rows[0]!.m,
        );
        // A larger size, with a well-formed note: refused, the lock is someone else's.
        const note = (await a.checkpoint())!;
        assert.equal(
          await fencedCheckpointInsert(intruder, keys, { size: newest + 100, time: '', note }),
          false,
        );
        // Once the lock is free and taken, only a larger size is accepted.
        await a.close();
        const got = await intruder.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1, $2) AS ok',
          keys.sequencer,
        );
        assert.equal(got.rows[0]!.ok, true);
        assert.equal(
          await fencedCheckpointInsert(intruder, keys, { size: newest, time: '', note }),
          false,
        );
        const sizes = await intruder.query('SELECT size FROM audit_checkpoints WHERE size > $1', [
          newest,
        ]);
        assert.equal(sizes.rowCount, 0);
      } finally {
        await intruder.end();
      }
    } finally {
      await c.closeAll();
    }
  });

  it('tampered records are caught by verify, by a node opening, and by a sequencer taking over', async () => {
    const c = await cluster('tamper');
    try {
      const a = await c.open({ checkpointIntervalMs: 3_600_000 });
      const first = await load(a, 1);
      const signed = (await a.proof(first.at(-1)!))!.treeSize; // asks for a checkpoint
      assert.equal(signed, 20);
      await load(a, 1);
      await waitFor('the second batch to be sequenced', () => a.size === 40);
      // A record after the newest checkpoint, rewritten in the table (its hash kept).
      await c.sql(
        `UPDATE audit_records SET record = replace(record, '"decision":"', '"decision":"x') WHERE seq = 25`,
      );
      const report = await c.verify(a);
      assert.equal(report.ok, false);
      assert.equal(report.problem?.index, 25);
      // The sequencer loses its connection and takes the lock again: the rebuild refuses to sign.
      await a.dropSequencerConnection();
      await waitFor('the takeover to refuse', () =>
        c.errors.some((e) => /audit record 25 does not match its stored hash/.test(e)),
      );
      assert.equal(a.isSequencer, false);
      await load(a, 1); // appends are still taken (durable, not numbered)...
      const top = await c.sql<{ m: string }>('SELECT max(size) AS m FROM audit_checkpoints');
      assert.equal(Number(top[0]!.m), 20, '...but nothing more is signed');
      await a.close();
      // A record under the checkpoint rewritten with its hash: the root no longer matches.
      await c.sql(
        `UPDATE audit_records SET record = 'x', leaf_hash = sha256('x'::bytea) WHERE seq = 3`,
      );
      await assert.rejects(c.open(), /records were rewritten/);
    } finally {
      await c.closeAll();
    }
  });

  it('cordon audit verify --postgres checks the cluster log with a pinned key, and names a tampered index', async () => {
    const c = await cluster('cli');
    try {
      const a = await c.open();
      const ids = await load(a, 2);
      await a.proof(ids.at(-1)!);
      const where = ['--postgres', c.target.url, '--schema', c.target.schema];
      const ok = cordon('audit', 'verify', ...where, '--key', a.verifierKey);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^ok: 40 records/);
      // Without --key, the key the nodes recorded in the database vouches for nothing.
      const untrusted = cordon('audit', 'verify', ...where);
      assert.equal(untrusted.status, 1);
      assert.match(untrusted.stdout, /UNTRUSTED/);
      const shown = cordon('audit', 'show', ids[3]!, ...where);
      assert.equal(shown.status, 0, shown.stderr);
      assert.equal((JSON.parse(shown.stdout) as { id: string }).id, ids[3]);
      await a.close();
      await c.sql(
        `UPDATE audit_records SET record = replace(record, '"v":1', '"v":2') WHERE seq = 9`,
      );
      const bad = cordon('audit', 'verify', ...where, '--key', a.verifierKey);
      assert.equal(bad.status, 1);
      assert.match(bad.stdout, /^TAMPERED at index 9:/);
      const missing = cordon(
        'audit',
        'verify',
        '--postgres',
        c.target.url,
        '--schema',
        'cordon_no_such_log',
      );
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /no audit log in .* schema cordon_no_such_log/);
    } finally {
      await c.closeAll();
    }
  });

  it('a node whose signing key is not the log key refuses to open', async () => {
    const c = await cluster('key');
    try {
      await c.open();
      const other = join(await tempDir('cordon-other-key-'), 'audit.key');
      await assert.rejects(c.open({ signingKey: other }), /every node must sign with the same key/);
    } finally {
      await c.closeAll();
    }
  });

  it('PostgreSQL unreachable: open fails, appends reject, and decisions are denied', async () => {
    await assert.rejects(
      ClusterAuditLog.open(
        { url: 'postgres://127.0.0.1:1/test', schema: 'cordon_nowhere' },
        { dataDir: await tempDir('cordon-cluster-node-') },
      ),
      (e: Error) => e instanceof AuditLogError && /unreachable/.test(e.message),
    );
    // A node reaching PostgreSQL through a proxy that then goes away.
    const sockets = new Set<Socket>();
    const proxy = createServer((s) => {
      const up = connect(5432, '127.0.0.1');
      for (const x of [s, up]) {
        sockets.add(x);
        x.on('error', () => {});
        x.on('close', () => sockets.delete(x));
      }
      s.pipe(up).pipe(s);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const c = await cluster('down');
    const pgUrl = new URL(TEST_POSTGRES);
    pgUrl.host = `127.0.0.1:${port}`;
    try {
      const a = await c.open({}, pgUrl.toString());
      await load(a, 1);
      await new Promise<void>((r) => {
        proxy.close(() => r());
        for (const s of sockets) s.destroy();
      });
      const engine = await exampleEngine();
      await assert.rejects(a.append(await engine.trace(REQUESTS[0]!)), AuditLogError);
      const service = new DecisionService(engine, new Metrics(), pino({ level: 'silent' }), a);
      const d = await service.decide(REQUESTS[0]!);
      assert.equal(d.decision, 'deny');
      assert.equal(d.reasons[0]?.policy, 'cordon/audit-unavailable');
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
      await c.closeAll();
    }
  });
});
