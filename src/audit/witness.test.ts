import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { populatedLog, REQUESTS, verifyDir } from '../testing/audit-log.js';
import { tempDir } from '../testing/fixtures.js';
import { startTlogWitness } from '../testing/tlog-witness-server.js';
import { AuditLog } from './log.js';
import { checkpointText, noteKey, signNote, splitNotes } from './note.js';
import { lastWitnessed, readWitnessFile } from './witness-file.js';

describe('witness file', () => {
  it('reads the newest note from the end of a long file, and every note from the start', async () => {
    const { generateKeyPairSync, createPublicKey } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ed25519');
    const key = noteKey(
      'example.test/log',
      Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url'),
    );
    const file = join(await tempDir('cordon-witness-'), 'w.note');
    assert.equal(await lastWitnessed(file), undefined, 'no file yet');
    const notes = Array.from({ length: 400 }, (_, size) =>
      signNote(
        checkpointText({ origin: key.name, size, root: Buffer.alloc(32, size % 256) }),
        key,
        privateKey,
      ),
    );
    await writeFile(file, notes.map((n) => `${n}\n`).join('')); // ~60 KB: several chunks
    assert.equal(await lastWitnessed(file), notes[399]);
    assert.deepEqual(await readWitnessFile(file), notes);

    await appendFile(file, 'garbage\n');
    await assert.rejects(readWitnessFile(file), /malformed note at line/);
    // A log started with it says so in one line (an AuditLogError), and signs nothing.
    const { AuditLogError } = await import('./log.js');
    await assert.rejects(
      AuditLog.open(await tempDir('cordon-audit-'), { witness: { file } }),
      (e: Error) => e instanceof AuditLogError && /^witness .*: .*malformed note/.test(e.message),
    );
    assert.throws(() => splitNotes('a\n1\nroot\n\nnot a signature\n'), /malformed note/);
  });

  it('gets every checkpoint in order, and a failing one does not stop the log', async () => {
    const errors: Error[] = [];
    const bad = join(await tempDir('cordon-witness-'), 'missing-dir', 'w.note');
    const { log, ids } = await populatedLog(6, 3, {
      witness: { file: bad },
      onError: (e) => errors.push(e),
    });
    assert.ok((await log.proof(ids[5]!))?.treeSize === 6, 'proofs still work');
    await log.close();
    assert.ok(errors.length > 0);
    assert.match(errors[0]!.message, /witness .*missing-dir.*ENOENT/);
  });
});

describe('tlog-witness (c2sp.org/tlog-witness)', () => {
  it('cosigns each checkpoint with a consistency proof; proofs carry the cosignature', async () => {
    const dir = await tempDir('cordon-audit-');
    const first = await AuditLog.open(dir, { checkpointIntervalMs: 3_600_000 });
    const key = first.signer.key;
    await first.close();
    const witness = await startTlogWitness(key);
    const errors: Error[] = [];
    try {
      const log = await AuditLog.open(dir, {
        checkpointIntervalMs: 3_600_000,
        witness: { url: witness.url },
        onError: (e) => errors.push(e),
      });
      const { exampleEngine } = await import('../testing/fixtures.js');
      const engine = await exampleEngine();
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) {
        const t = await engine.trace(REQUESTS[i % REQUESTS.length]!);
        await log.append(t);
        ids.push(t.decision.decisionId);
        if (i % 3 === 2) await log.checkpoint();
      }
      await log.close();
      assert.equal(errors.length, 0, errors.map((e) => e.message).join('; '));
      assert.equal(witness.state?.size, 9);
      assert.ok(!witness.statuses.includes(422), 'every proof verified');
      const again = await AuditLog.open(dir, { checkpointIntervalMs: 3_600_000 });
      const proof = await again.proof(ids[4]!);
      assert.match(proof!.checkpoint, /\n— witness\.test\/w1 [A-Za-z0-9+/=]+\n$/);
      await again.close();
      assert.equal(
        verifyDir(dir, key, again.origin).ok,
        true,
        'cosignatures are ignored by verify',
      );

      // Rolled back to 3 records, then grown again: the witness refuses the forked tree.
      const Db = (await import('better-sqlite3')).default;
      const d = new Db(join(dir, 'audit.db'));
      d.prepare('DELETE FROM records WHERE seq >= 3').run();
      d.prepare('DELETE FROM checkpoints WHERE size > 3').run();
      d.close();
      const forked = await AuditLog.open(dir, {
        checkpointIntervalMs: 3_600_000,
        witness: { url: witness.url },
        onError: (e) => errors.push(e),
      });
      for (let i = 0; i < 8; i++) await forked.append(await engine.trace(REQUESTS[0]!));
      await forked.close();
      assert.equal(witness.state?.size, 9, 'the witness kept what it saw');
      assert.ok(errors.length > 0);
      assert.match(errors.at(-1)!.message, /was rewritten/);
    } finally {
      await witness.close();
    }
  });

  it('reports a rollback the witness shows when asked with an older size', async () => {
    const dir = await tempDir('cordon-audit-');
    const first = await AuditLog.open(dir, { checkpointIntervalMs: 3_600_000 });
    const key = first.signer.key;
    await first.close();
    const witness = await startTlogWitness(key);
    const errors: Error[] = [];
    try {
      const { exampleEngine } = await import('../testing/fixtures.js');
      const engine = await exampleEngine();
      const open = () =>
        AuditLog.open(dir, {
          checkpointIntervalMs: 3_600_000,
          witness: { url: witness.url },
          onError: (e) => errors.push(e),
        });
      const log = await open();
      for (let i = 0; i < 6; i++) await log.append(await engine.trace(REQUESTS[1]!));
      await log.close();
      const Db = (await import('better-sqlite3')).default;
      const d = new Db(join(dir, 'audit.db'));
      d.prepare('DELETE FROM records WHERE seq >= 2').run();
      d.prepare('DELETE FROM checkpoints WHERE size > 2').run();
      d.close();
      const rolled = await open();
      await rolled.append(await engine.trace(REQUESTS[1]!));
      await rolled.close(); // signs size 3, below the 6 the witness cosigned
      assert.match(
        errors.at(-1)?.message ?? '',
        /cosigned .* at size 6, .* at size 3: the log was rolled back/,
      );
    } finally {
      await witness.close();
    }
  });
});
