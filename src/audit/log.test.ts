import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { exampleEngine, tempDir } from '../testing/fixtures.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { checkInclusionBundle } from './check-proof.js';
import { AUDIT_DB, AuditLog } from './log.js';
import { checkpointText, noteKey, openCheckpoint, parseCheckpoint, signNote } from './note.js';
import type { AuditRecord } from './record.js';
import { replaySession, whatIf } from './replay.js';
import { compilePolicySet } from '../core/compile.js';
import { readPolicySources } from '../policy/load.js';
import { EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { verifyLog } from './verify.js';
import { closedLog, populatedLog, REQUESTS, verifyDir } from '../testing/audit-log.js';

describe('audit verify catches tampering and names the first bad index', () => {
  it('passes an intact log', async () => {
    const { dir, key, origin } = await closedLog(23);
    const r = verifyDir(dir, key, origin);
    assert.deepEqual({ ok: r.ok, records: r.records }, { ok: true, records: 23 });
    assert.ok(r.checkpoints >= 5);
  });

  it('one changed byte in one stored record', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    const rec = d.prepare('SELECT record FROM records WHERE seq = 7').pluck().get() as string;
    d.prepare('UPDATE records SET record = ? WHERE seq = 7').run(
      rec.replace('"decision":"deny"', '"decision":"allo"').replace('"allow"', '"allox"'),
    );
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.equal(r.problem?.index, 7);
  });

  it('a record rewritten together with its stored hash (caught by the signed root)', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    const rec = JSON.parse(
      d.prepare('SELECT record FROM records WHERE seq = 12').pluck().get() as string,
    ) as AuditRecord;
    rec.decision = rec.decision === 'allow' ? 'deny' : 'allow';
    const { canonical } = await import('./record.js');
    const { hashLeaf } = await import('./merkle.js');
    const text = canonical(rec);
    d.prepare('UPDATE records SET record = ?, leaf_hash = ? WHERE seq = 12').run(
      text,
      hashLeaf(Buffer.from(text)),
    );
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.equal(
      r.problem?.index,
      10,
      'the start of the range the checkpoint at 15 no longer matches',
    );
    assert.match(r.problem?.message ?? '', /do not produce the root signed at size 15/);
  });

  it('a deleted record', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    d.prepare('DELETE FROM records WHERE seq = 4').run();
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.problem?.index, 4);
    assert.match(r.problem?.message ?? '', /missing/);
  });

  it('two records swapped', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    const a = d
      .prepare('SELECT decision_id, session, time, record, leaf_hash FROM records WHERE seq = 3')
      .raw()
      .get() as unknown[];
    const b = d
      .prepare('SELECT decision_id, session, time, record, leaf_hash FROM records WHERE seq = 9')
      .raw()
      .get() as unknown[];
    const put = d.prepare(
      'UPDATE records SET decision_id = ?, session = ?, time = ?, record = ?, leaf_hash = ? WHERE seq = ?',
    );
    d.transaction(() => {
      put.run(`tmp-${String(a[0])}`, a[1], a[2], a[3], a[4], 9);
      put.run(...b, 3);
      d.prepare('UPDATE records SET decision_id = ? WHERE seq = 9').run(a[0]);
    })();
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.problem?.index, 3);
    assert.match(r.problem?.message ?? '', /moved/);
  });

  it('a truncated tail', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    d.prepare('DELETE FROM records WHERE seq >= 16').run();
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.problem?.index, 16);
    assert.match(r.problem?.message ?? '', /truncated/);
  });

  it('a replaced checkpoint signature', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    const note = d.prepare('SELECT note FROM checkpoints WHERE size = 10').pluck().get() as string;
    const forged = note.replace(
      / ([A-Za-z0-9+/]{8})([A-Za-z0-9+/])/,
      (_m, id: string, c: string) => ` ${id}${c === 'A' ? 'B' : 'A'}`,
    );
    assert.notEqual(forged, note);
    d.prepare('UPDATE checkpoints SET note = ? WHERE size = 10').run(forged);
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.equal(r.problem?.index, 10);
    assert.match(r.problem?.message ?? '', /checkpoint at size 10/);
  });

  it('checkpoints re-signed with a different key', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const { privateKey } = generateKeyPairSync('ed25519');
    const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
    const mallory = noteKey(origin, raw);
    const d = db();
    for (const row of d.prepare('SELECT size, note FROM checkpoints').all() as {
      size: number;
      note: string;
    }[]) {
      const body = row.note.slice(0, row.note.lastIndexOf('\n\n') + 1);
      d.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(
        signNote(body, mallory, privateKey),
        row.size,
      );
    }
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.match(r.problem?.message ?? '', /not signed by/);
  });
});

/** The closed log in `dir` passes `cordon audit verify`'s checks. */
function assertVerifies(dir: string, log: AuditLog): void {
  const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
  const report = verifyLog(store, log.signer.key, log.origin);
  store.close();
  assert.ok(report.ok, JSON.stringify(report));
}

describe('audit log', () => {
  it('stores a decision before the decision is returned, and denies when it cannot', async () => {
    const dir = await tempDir('cordon-audit-');
    const errors: Error[] = [];
    const log = await AuditLog.open(dir, {
      checkpointIntervalMs: 20,
      onError: (e) => errors.push(e),
    });
    const metrics = new Metrics();
    const service = new DecisionService(
      await exampleEngine(),
      metrics,
      pino({ level: 'silent' }),
      log,
    );
    // The store fails underneath the writer thread (as with a full disk): writes abort, first
    // those of checkpoints (the timer's), then those of records.
    const saboteur = new Database(join(dir, AUDIT_DB));
    const sabotage = (table: string) =>
      saboteur.exec(
        `CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
      );
    sabotage('checkpoints');
    const d = await service.decide(REQUESTS[0]!);
    const reader = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
    assert.ok(reader.byDecisionId(d.decisionId), 'the record is readable from another connection');
    reader.close();

    sabotage('records');
    const refused = await Promise.all([0, 1, 2].map(() => service.decide(REQUESTS[0]!)));
    for (const r of refused) {
      assert.equal(r.decision, 'deny');
      assert.equal(r.reasons[0]?.policy, 'cordon/audit-unavailable');
    }
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(errors.length > 0, 'the failing checkpoint timer reports instead of crashing');

    // Once the store works again, so does the log, with no gap where the refused batch was.
    saboteur.exec('DROP TRIGGER fail_records; DROP TRIGGER fail_checkpoints');
    saboteur.close();
    const next = await service.decide(REQUESTS[0]!);
    assert.equal(next.decision, 'allow');
    assert.equal(log.store.byDecisionId(next.decisionId)?.seq, 1);
    await log.close();
    assertVerifies(dir, log);
  });

  it('reports a record written, then durable; once an fsync fails, nothing is durable or written again', async () => {
    const engine = await exampleEngine();
    const healthy = await AuditLog.open(await tempDir('cordon-audit-')); // sync full
    const ok = healthy.appendStaged(await engine.trace(REQUESTS[0]!));
    assert.equal(await ok.written, 0);
    assert.equal(await ok.durable, 0);
    await healthy.close();

    // The WAL cannot be synced (its name is gone before the writer first opens it): the batch
    // is written, but never reported durable, and the log refuses everything after it.
    const dir = await tempDir('cordon-audit-');
    const log = await AuditLog.open(dir);
    unlinkSync(join(dir, `${AUDIT_DB}-wal`));
    const lost = log.appendStaged(await engine.trace(REQUESTS[1]!));
    assert.equal(await lost.written, 0);
    await assert.rejects(lost.durable, /fsync of the audit log failed/);
    // Nothing is written after it either: not reported written, not in the tree.
    const after = log.appendStaged(await engine.trace(REQUESTS[2]!));
    await assert.rejects(after.written, /restart Cordon/);
    await assert.rejects(after.durable, /restart Cordon/);
    assert.equal(log.size, 1);
    await assert.rejects(log.close(), /restart Cordon/);
  });

  it('reports durable only after the fsync; a failed fdatasync (EIO) breaks the log and withholds its checkpoint', async () => {
    const engine = await exampleEngine();
    // A disk whose data flushes wait for `release`, and then succeed or fail with EIO.
    let failing = false;
    let release = () => {};
    const syncFile = (_fd: number, data: boolean) =>
      data
        ? new Promise<void>((resolve, reject) => {
            release = () => (failing ? reject(new Error('EIO: i/o error')) : resolve());
          })
        : Promise.resolve();
    const log = await AuditLog.open(await tempDir('cordon-audit-'), { syncFile });
    const first = await engine.trace(REQUESTS[0]!);
    const a = log.appendStaged(first);
    assert.equal(await a.written, 0);
    let durable = false;
    void a.durable.then(() => (durable = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(durable, false, 'durable before the fsync finished');
    release();
    assert.equal(await a.durable, 0);

    const signed = log.checkpoint();
    await new Promise((r) => setTimeout(r, 5));
    release();
    const note = await signed;
    assert.ok(note);

    failing = true;
    const b = log.appendStaged(await engine.trace(REQUESTS[1]!));
    assert.equal(await b.written, 1);
    await new Promise((r) => setTimeout(r, 5));
    release();
    await assert.rejects(b.durable, /fsync of the audit log failed: EIO/);
    // A broken log signs no checkpoint over both records: a proof of the first record still
    // carries the durable checkpoint of size 1.
    await assert.rejects(log.checkpoint(), /restart Cordon/);
    const proof = await log.proof(first.decision.decisionId);
    assert.equal(proof?.treeSize, 1);
    assert.equal(proof?.checkpoint, note);
    assert.equal(log.store.latestCheckpoint()?.note, note, 'nothing signed after the failure');
    await assert.rejects(
      log.appendStaged(await engine.trace(REQUESTS[2]!)).written,
      /restart Cordon/,
    );
    assert.equal(log.size, 2);
    await assert.rejects(log.close(), /restart Cordon/);
  });

  it('refuses a record that has no canonical form alone; the rest of its batch is stored', async () => {
    const dir = await tempDir('cordon-audit-');
    const log = await AuditLog.open(dir);
    const engine = await exampleEngine();
    const bad = await engine.trace({ ...REQUESTS[0]!, input: { note: 'half an emoji \ud83d' } });
    const [a, b, c] = await Promise.allSettled([
      log.append(await engine.trace(REQUESTS[0]!)),
      log.append(bad),
      log.append(await engine.trace(REQUESTS[1]!)),
    ]);
    assert.deepEqual(a, { status: 'fulfilled', value: 0 });
    assert.equal(b!.status, 'rejected');
    assert.match(String((b as PromiseRejectedResult).reason), /Lone surrogate/);
    assert.deepEqual(c, { status: 'fulfilled', value: 1 });
    await log.close();
    assertVerifies(dir, log);
  });

  it("allows one writer per log: a second one is refused, a dead one's lock is taken over", async () => {
    const dir = await tempDir('cordon-audit-');
    const log = await AuditLog.open(dir);
    await assert.rejects(AuditLog.open(dir), /in use by process \d+/);
    await log.close();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'audit.lock'), '999999999'); // no such process
    const again = await AuditLog.open(dir);
    await again.close();
  });

  it('batches concurrent appends into contiguous indexes', async () => {
    const dir = await tempDir('cordon-audit-');
    const log = await AuditLog.open(dir);
    const engine = await exampleEngine();
    const traces = await Promise.all(
      Array.from({ length: 300 }, (_, i) => engine.trace(REQUESTS[i % 4]!)),
    );
    const seqs = await Promise.all(traces.map((t) => log.append(t)));
    assert.deepEqual(
      [...seqs].sort((a, b) => a - b),
      Array.from({ length: 300 }, (_, i) => i),
    );
    await log.close();
  });

  it('signs a checkpoint on its own while records arrive', async () => {
    const dir = await tempDir('cordon-audit-');
    const log = await AuditLog.open(dir, { checkpointIntervalMs: 30 });
    const engine = await exampleEngine();
    await log.append(await engine.trace(REQUESTS[0]!));
    await new Promise((r) => setTimeout(r, 120));
    const cp = log.store.latestCheckpoint();
    assert.equal(cp?.size, 1);
    assert.ok(openCheckpoint(cp.note, log.signer.key, log.origin).ok);
    await log.close();
  });

  it('reopens: the tree is rebuilt, checked against the last checkpoint, and grows on', async () => {
    const { dir, log, engine } = await populatedLog(9, 3);
    await log.close();
    const again = await AuditLog.open(dir);
    assert.equal(again.size, 9);
    await again.append(await engine.trace(REQUESTS[1]!));
    const note = (await again.checkpoint())!;
    assert.equal(
      parseCheckpoint(
        openCheckpoint(note, again.signer.key).ok ? note.slice(0, note.indexOf('\n\n') + 1) : '',
      ).size,
      10,
    );
    await again.close();
  });

  it('refuses to reopen a log whose records no longer match its checkpoint', async () => {
    const { dir, db } = await closedLog(10, 5);
    const d = db();
    d.prepare('UPDATE records SET leaf_hash = ? WHERE seq = 2').run(Buffer.alloc(32));
    d.close();
    await assert.rejects(AuditLog.open(dir), /do not match the checkpoint/);
  });

  for (const sync of ['full', 'normal'] as const) {
    it(`loses nothing acknowledged when the process is killed (sync ${sync})`, async () => {
      const dir = await tempDir('cordon-audit-');
      const { spawn } = await import('node:child_process');
      const script = new URL('../testing/audit-writer.js', import.meta.url);
      const child = spawn(process.execPath, [script.pathname, dir, sync], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const acked: string[] = [];
      await new Promise<void>((resolve) => {
        let buf = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          acked.push(...lines.filter(Boolean));
          if (acked.length >= 400 && !child.killed) {
            child.kill('SIGKILL');
            resolve();
          }
        });
      });
      await new Promise((r) => child.once('exit', r));
      const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
      const missing = acked.filter((id) => !store.byDecisionId(id));
      const count = store.count();
      store.close();
      assert.deepEqual(missing, [], 'every acknowledged decision survived the kill');
      assert.ok(count >= acked.length);
      const reopened = await AuditLog.open(dir);
      const r = verifyLog(reopened.store, reopened.signer.key, reopened.origin);
      assert.ok(r.ok, JSON.stringify(r.problem));
      await reopened.close();
    });
  }
});

describe('records, proofs, replay', () => {
  it('keeps a digest of the input, not the input, unless configured; masks before hashing', async () => {
    const plain = await populatedLog(1);
    const rec = (await plain.log.proof(plain.ids[0]!))!.record;
    assert.match(rec.inputDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(rec.input, undefined);
    await plain.log.close();

    const kept = await populatedLog(1, 5, { recordInput: true, mask: ['/input/account'] });
    const rec2 = (await kept.log.proof(kept.ids[0]!))!.record;
    assert.deepEqual(rec2.input, { account: '[masked]' });
    assert.equal(rec2.inputDigest, rec.inputDigest, 'the digest is of the original input');
    await kept.log.close();
  });

  it('proves inclusion offline with the key, and rejects a doctored proof or another key', async () => {
    const { log, ids } = await populatedLog(13, 100);
    const bundle = (await log.proof(ids[6]!))!;
    assert.equal(bundle.treeSize, 13, 'a checkpoint was signed for the proof');
    const key = log.signer.key;
    assert.deepEqual(checkInclusionBundle(bundle, key), { ok: true, index: 6, treeSize: 13 });

    const doctored = structuredClone(bundle);
    doctored.record.decision = doctored.record.decision === 'allow' ? 'deny' : 'allow';
    assert.equal(checkInclusionBundle(doctored, key).ok, false);
    const moved = { ...bundle, index: 5 };
    assert.equal(checkInclusionBundle(moved, key).ok, false);
    const { privateKey } = generateKeyPairSync('ed25519');
    const other = noteKey(
      key.name,
      Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url'),
    );
    assert.equal(checkInclusionBundle(bundle, other).ok, false);
    const resigned = {
      ...bundle,
      checkpoint: signNote(
        checkpointText({ origin: key.name, size: 13, root: Buffer.alloc(32) }),
        other,
        privateKey,
      ),
    };
    assert.equal(checkInclusionBundle(resigned, key).ok, false);
    await log.close();
  });

  it('replays a session against the recorded policy version, and notices a doctored one', async () => {
    const { dir, log } = await populatedLog(8);
    await log.close();
    const store = new SqliteAuditStore(join(dir, AUDIT_DB));
    const s1 = await replaySession(store, 's1');
    assert.equal(s1.results.length, 4);
    assert.ok(s1.results.every((r) => r.reproduces));

    // Someone edits the stored policy set: replay no longer reproduces the recorded decisions.
    const [version] = store.db.prepare('SELECT version FROM policy_sets').pluck().all() as string[];
    const sources = store.policySet(version!)!;
    sources.policies.push({ file: 'zz.cedar', text: 'forbid(principal, action, resource);' });
    store.db
      .prepare('UPDATE policy_sets SET sources = ? WHERE version = ?')
      .run(JSON.stringify(sources), version);
    const again = await replaySession(store, 's1');
    assert.ok(again.results.some((r) => !r.reproduces));
    store.close();
  });

  it('what-if shows what a candidate policy set would change', async () => {
    const { dir, log } = await populatedLog(8);
    await log.close();
    const src = await readPolicySources(EXAMPLE_POLICIES);
    src.policies.push({
      file: 'freeze.cedar',
      text: '@id("ledger-frozen") forbid(principal, action, resource == Tool::"erp/read_ledger");',
    });
    const candidate = compilePolicySet(src);
    assert.ok(candidate.ok);
    const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
    const report = await whatIf(store, candidate.set);
    store.close();
    assert.equal(report.total, 8);
    assert.equal(report.changed, 2);
    const t = report.transitions.get('allow → deny');
    assert.equal(t?.count, 2);
    assert.deepEqual(t?.examples[0]?.policies, ['ledger-frozen']);
  });
});
