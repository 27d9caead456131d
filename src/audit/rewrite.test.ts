// Attacks by whoever can write the data directory: checkpoints deleted and records rewritten,
// the newest records rolled back, everything re-signed with a key found there. Each is tried
// against `audit verify` and against a restart, with and without a witness and a separate key.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type Database from 'better-sqlite3';
import { closedLog, populatedLog, REQUESTS, verifyDir } from '../testing/audit-log.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { keyPaths } from './keys.js';
import { AUDIT_DB, AuditLog } from './log.js';
import { hashLeaf } from './merkle.js';
import { signNote } from './note.js';
import { canonical, type AuditRecord } from './record.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { readWitnessFile } from './witness-file.js';

const BIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const cordon = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

/** Flips the decision of record `seq` and stores the leaf hash that goes with it. */
function rewriteRecord(d: Database.Database, seq: number): void {
  const rec = JSON.parse(
    d.prepare('SELECT record FROM records WHERE seq = ?').pluck().get(seq) as string,
  ) as AuditRecord;
  rec.decision = rec.decision === 'allow' ? 'deny' : 'allow';
  const text = canonical(rec);
  d.prepare('UPDATE records SET record = ?, leaf_hash = ? WHERE seq = ?').run(
    text,
    hashLeaf(Buffer.from(text)),
    seq,
  );
}

/** Drops the records from `size` on and every checkpoint above `size`: a rollback. */
function rollBack(d: Database.Database, size: number): void {
  d.prepare('DELETE FROM records WHERE seq >= ?').run(size);
  d.prepare('DELETE FROM checkpoints WHERE size > ?').run(size);
}

/** Re-signs every checkpoint over the rewritten records with the key found in the data dir. */
async function resignWithDataDirKey(dir: string, d: Database.Database): Promise<void> {
  const { createPrivateKey } = await import('node:crypto');
  const { parseVerifierKey } = await import('./note.js');
  const privateKey = createPrivateKey(await readFile(keyPaths(dir).private, 'utf8'));
  const key = parseVerifierKey(await readFile(keyPaths(dir).verifier, 'utf8'));
  const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
  const { treeFromStore } = await import('./log.js');
  const tree = treeFromStore(store);
  const { checkpointText } = await import('./note.js');
  for (const size of d.prepare('SELECT size FROM checkpoints').pluck().all() as number[]) {
    const note = signNote(
      checkpointText({ origin: key.name, size, root: tree.subtree(0, size) }),
      key,
      privateKey,
    );
    d.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(note, size);
  }
  store.close();
}

async function witnessed(): Promise<string> {
  return join(await tempDir('cordon-witness-'), 'checkpoints.note');
}

describe('audit verify needs a trusted checkpoint', () => {
  it('passes a new, empty log: it signed its empty tree', async () => {
    const { dir, key, origin } = await closedLog(0);
    const r = verifyDir(dir, key, origin);
    assert.deepEqual([r.ok, r.records, r.signedSize], [true, 0, 0]);
  });

  it('fails when the checkpoints were deleted and the records rewritten', async () => {
    const { dir, key, origin, db } = await closedLog(20);
    const d = db();
    d.exec('DELETE FROM checkpoints');
    rewriteRecord(d, 3);
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.match(
      r.problem?.message ?? '',
      /no checkpoint signed by .*were the checkpoints deleted/,
    );

    const cli = cordon('audit', 'verify', '--data', dir, '--key', keyPaths(dir).verifier);
    assert.equal(cli.status, 1, cli.stdout + cli.stderr);
  });

  it('catches a rollback given a witness file or a minimum size, and says it cannot without', async () => {
    const file = await witnessed();
    const { dir, key, origin, db } = await closedLog(20, 5, { witness: { file } });
    const d = db();
    rollBack(d, 10);
    d.close();
    const pinned = await tempDir('cordon-pinned-');
    const vkey = join(pinned, 'audit.vkey');
    await writeFile(vkey, await readFile(keyPaths(dir).verifier));

    // The log alone is a consistent, smaller log.
    assert.equal(verifyDir(dir, key, origin).ok, true);
    const alone = cordon('audit', 'verify', '--data', dir, '--key', vkey);
    assert.equal(alone.status, 0, alone.stdout + alone.stderr);
    assert.match(alone.stdout, /a rollback .* is caught only with --checkpoint or --min-size/);

    const notes = await readWitnessFile(file);
    assert.deepEqual(
      notes.map((n) => Number(n.split('\n')[1])),
      [0, 5, 10, 15, 20],
      'every checkpoint was witnessed, in order',
    );
    const w = verifyDir(dir, key, origin, { witnessed: notes });
    assert.equal(w.ok, false);
    assert.match(
      w.problem?.message ?? '',
      /rolled back: a checkpoint at size 20 was witnessed, the log's newest is at size 10/,
    );
    const m = verifyDir(dir, key, origin, { minSize: 20 });
    assert.match(m.problem?.message ?? '', /rolled back: .* size 10, below the expected 20/);

    const cli = cordon('audit', 'verify', '--data', dir, '--key', vkey, '--checkpoint', file);
    assert.equal(cli.status, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /^TAMPERED at index 10: log rolled back/);
    const min = cordon('audit', 'verify', '--data', dir, '--key', vkey, '--min-size', '20');
    assert.equal(min.status, 1, min.stdout + min.stderr);
    const bad = cordon('audit', 'verify', '--data', dir, '--key', vkey, '--min-size', 'many');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^cordon: --min-size takes a record count/);
  });

  it('keeps the checkpoint of one run to catch a rollback at the next (--save-checkpoint)', async () => {
    const { dir, db } = await closedLog(10);
    const vkey = join(await tempDir('cordon-pinned-'), 'audit.vkey');
    await writeFile(vkey, await readFile(keyPaths(dir).verifier));
    const saved = join(await tempDir('cordon-seen-'), 'seen.note');
    const first = cordon(
      'audit',
      'verify',
      '--data',
      dir,
      '--key',
      vkey,
      '--save-checkpoint',
      saved,
    );
    assert.equal(first.status, 0, first.stdout + first.stderr);
    const d = db();
    rollBack(d, 5);
    d.close();
    const next = cordon('audit', 'verify', '--data', dir, '--key', vkey, '--checkpoint', saved);
    assert.equal(next.status, 1, next.stdout + next.stderr);
    assert.match(next.stdout, /log rolled back: a checkpoint at size 10 was witnessed/);
  });

  it('catches records rewritten and re-signed with the key in the data directory, given a witness', async () => {
    const file = await witnessed();
    const { dir, key, origin, db } = await closedLog(20, 5, { witness: { file } });
    const d = db();
    rewriteRecord(d, 3);
    await resignWithDataDirKey(dir, d);
    d.close();
    assert.equal(verifyDir(dir, key, origin).ok, true, 'the key was in the data directory');
    const r = verifyDir(dir, key, origin, { witnessed: await readWitnessFile(file) });
    assert.equal(r.ok, false);
    assert.match(r.problem?.message ?? '', /records 0…4 were rewritten/);
  });

  it('says a check with only the key stored in the data directory proves nothing', async () => {
    const { dir } = await closedLog(6);
    for (const args of [[], ['--key', keyPaths(dir).verifier]]) {
      const r = cordon('audit', 'verify', '--data', dir, ...args);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^UNTRUSTED: .* proves nothing against whoever can write/);
    }
  });
});

describe('a restarted log refuses to sign over a log that does not verify', () => {
  it('refuses when the checkpoints were deleted and the records rewritten', async () => {
    const { dir, db } = await closedLog(20);
    const d = db();
    d.exec('DELETE FROM checkpoints');
    rewriteRecord(d, 3);
    d.close();
    await assert.rejects(AuditLog.open(dir), /20 records but no signed checkpoint/);
    const d2 = db();
    assert.equal(d2.prepare('SELECT COUNT(*) FROM checkpoints').pluck().get(), 0, 'nothing signed');
    d2.close();
  });

  it('refuses a rollback below the witnessed size', async () => {
    const file = await witnessed();
    const { dir, db } = await closedLog(20, 5, { witness: { file } });
    const d = db();
    rollBack(d, 10);
    d.close();
    await assert.rejects(
      AuditLog.open(dir, { witness: { file } }),
      /10 records, but the checkpoint witnessed in .* is at size 20: records were removed/,
    );
  });

  it('refuses records rewritten and re-signed with a stolen key, given the witness', async () => {
    const file = await witnessed();
    const { dir, db } = await closedLog(20, 5, { witness: { file } });
    const d = db();
    rewriteRecord(d, 3);
    await resignWithDataDirKey(dir, d);
    d.close();
    await assert.rejects(
      AuditLog.open(dir, { witness: { file } }),
      /do not match the checkpoint at size 20 \(the checkpoint witnessed in .*\): records were rewritten/,
    );
  });

  it('refuses to sign a record left unsigned by the last run whose bytes were changed', async () => {
    const { dir, db } = await closedLog(7, 5);
    const d = db();
    d.prepare('DELETE FROM checkpoints WHERE size > 5').run(); // as after a crash
    const rec = d.prepare('SELECT record FROM records WHERE seq = 6').pluck().get() as string;
    d.prepare('UPDATE records SET record = ? WHERE seq = 6').run(rec.replace('"v":1', '"v":2'));
    d.close();
    await assert.rejects(AuditLog.open(dir), /record 6 does not match its stored hash/);
  });

  it('cordon serve does not start, and says why', async () => {
    const { dir, db } = await closedLog(8);
    const d = db();
    d.exec('DELETE FROM checkpoints');
    d.close();
    const r = cordon('serve', '--data', dir, '--policies', EXAMPLE_POLICIES, '--port', '0');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^cordon: the audit log has 8 records but no signed checkpoint/m);
  });
});

describe('the signing key can live outside the data directory', () => {
  it('is created there, and an intruder with the data directory cannot re-sign the log', async () => {
    const keyFile = join(await tempDir('cordon-key-'), 'audit.key');
    const { dir, log, engine } = await populatedLog(10, 5, { signingKey: keyFile });
    const key = log.signer.key;
    const origin = log.origin;
    assert.equal(log.signer.inDataDir, false);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(existsSync(keyPaths(dir).private), false, 'no private key in the data directory');
    assert.equal((await readFile(keyPaths(dir).verifier, 'utf8')).trim(), log.verifierKey);
    await log.close();

    // Reopened with the same key, it grows on and verifies with the pinned key.
    const again = await AuditLog.open(dir, { signingKey: keyFile });
    await again.append(await engine.trace(REQUESTS[0]!));
    await again.close();
    assert.equal(verifyDir(dir, key, origin).ok, true);

    // The intruder rewrites a record and signs every checkpoint with a key of their own.
    const { generateKeyPairSync } = await import('node:crypto');
    const { noteKey, checkpointText } = await import('./note.js');
    const { privateKey } = generateKeyPairSync('ed25519');
    const { createPublicKey } = await import('node:crypto');
    const mallory = noteKey(
      origin,
      Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url'),
    );
    const Db = (await import('better-sqlite3')).default;
    const d = new Db(join(dir, AUDIT_DB));
    rewriteRecord(d, 2);
    const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
    const { treeFromStore } = await import('./log.js');
    const tree = treeFromStore(store);
    for (const size of d.prepare('SELECT size FROM checkpoints').pluck().all() as number[]) {
      const note = signNote(
        checkpointText({ origin, size, root: tree.subtree(0, size) }),
        mallory,
        privateKey,
      );
      d.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(note, size);
    }
    store.close();
    d.close();
    const r = verifyDir(dir, key, origin);
    assert.equal(r.ok, false);
    assert.match(r.problem?.message ?? '', /not signed by/);
    await assert.rejects(
      AuditLog.open(dir, { signingKey: keyFile }),
      /its last checkpoint does not verify/,
    );
  });

  it('says how to move a key out of the data directory instead of making a new one', async () => {
    const { dir } = await closedLog(3);
    const keyFile = join(await tempDir('cordon-key-'), 'audit.key');
    await assert.rejects(
      AuditLog.open(dir, { signingKey: keyFile }),
      /does not exist, and the log is signed with .*keys\/audit\.key: move that file/,
    );
    assert.equal(existsSync(keyFile), false);
  });

  it('cordon serve takes it from CORDON_AUDIT_SIGNING_KEY', async () => {
    const keyFile = join(await tempDir('cordon-key-'), 'audit.key');
    const dir = await tempDir('cordon-data-');
    const { configSchema } = await import('../config/config.js');
    const { openPdp } = await import('../runtime/pdp.js');
    const { pino } = await import('pino');
    process.env.CORDON_AUDIT_SIGNING_KEY = keyFile;
    try {
      const pdp = await openPdp(
        configSchema.parse({ data: dir, policies: EXAMPLE_POLICIES, watch: false }),
        pino({ level: 'silent' }),
      );
      assert.equal(pdp.audit?.signer.file, keyFile);
      await pdp.close();
    } finally {
      delete process.env.CORDON_AUDIT_SIGNING_KEY;
    }
    assert.ok(existsSync(keyFile));
    assert.equal(existsSync(keyPaths(dir).private), false);
  });
});
