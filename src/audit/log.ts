// The audit log: decisions appended in batches (group commit: every record appended in one turn
// of the event loop goes into one transaction), made durable by a shared fsync (wal-sync.ts), an
// RFC 6962 tree over the committed records, a signed checkpoint at least every second while
// records arrive, handed to the configured witnesses, and inclusion proofs against the latest
// checkpoint. On open, the stored records must match the newest checkpoint the log or a witness
// holds, or the log refuses to sign anything (open fails).

import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { ensureDataDir } from '../store/data-dir.js';
import { join, resolve } from 'node:path';
import type { DecisionTrace } from '../core/engine.js';
import { loadOrCreateSigningKey, type SigningKey } from './keys.js';
import { hashLeaf, MerkleTree, type Hash } from './merkle.js';
import { checkpointText, formatVerifierKey, openCheckpoint, signNote } from './note.js';
import { openWitnesses, type CheckpointWitness, type WitnessConfig } from './witness.js';
import {
  buildRecord,
  canonical,
  validateMask,
  type AuditRecord,
  type RecordOptions,
} from './record.js';
import { SqliteAuditStore, type StoredRecord } from './sqlite-store.js';
import type { AuditReader, AuditService, InclusionBundle } from '../store/audit-port.js';
import { startWalCheckpointer } from './wal-checkpointer.js';
import { WalSync, type SyncFile } from './wal-sync.js';

export const AUDIT_DB = 'audit.db';

export interface AuditOptions extends RecordOptions {
  /** How often a new checkpoint is signed while records arrive. */
  checkpointIntervalMs: number;
  /** Most records per transaction. */
  maxBatch: number;
  /** full: acknowledged records survive power loss; normal: they survive process crashes. */
  sync: 'full' | 'normal';
  /** Errors of background work (the checkpoint timer); appends report theirs to the caller. */
  onError: (e: Error) => void;
  /** How the WAL is flushed (tests inject a failing disk). */
  syncFile?: SyncFile;
  /** The signing key's file, outside the data directory (default: DATA/keys/audit.key). */
  signingKey?: string | undefined;
  /** Where every signed checkpoint is also sent: an append-only file, a tlog-witness. */
  witness?: WitnessConfig | undefined;
}

export const DEFAULT_AUDIT_OPTIONS: AuditOptions = {
  recordInput: false,
  recordPrompt: false,
  mask: [],
  checkpointIntervalMs: 1000,
  maxBatch: 4096,
  sync: 'full',
  onError: () => {},
};

export class AuditLogError extends Error {}

/**
 * One writer per log: a lock file holding the writer's pid. A second writer would keep its own
 * tree and sequence and corrupt both; a lock left by a dead process is taken over.
 */
function acquireWriterLock(dataDir: string): () => void {
  const file = join(dataDir, 'audit.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8'));
      let alive = Number.isInteger(pid) && pid > 0;
      if (alive) {
        try {
          process.kill(pid, 0);
        } catch (err) {
          alive = (err as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive)
        throw new AuditLogError(
          `the audit log in ${dataDir} is in use by process ${pid} (one writer per log)`,
        );
      unlinkSync(file);
    }
  }
  throw new AuditLogError(`could not lock the audit log in ${dataDir}`);
}

export type { InclusionBundle };

interface Pending {
  trace: DecisionTrace;
  written: Settle;
  durable: Settle;
}
interface Settle {
  resolve: (seq: number) => void;
  reject: (e: Error) => void;
}

/** An append's two stages (see wal-sync.ts); `durable` rejects whenever `written` does. */
export interface StagedAppend {
  /** The record is committed: it survives a crash of the process. Resolves with its index. */
  written: Promise<number>;
  /** The record survives power loss too (with sync "normal": as soon as it is written). */
  durable: Promise<number>;
}

export class AuditLog implements AuditService {
  private readonly tree: MerkleTree;
  private queue: Pending[] = [];
  private flushScheduled = false;
  private readonly storedVersions = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** The latest checkpoint handed out: signed, stored, and durable. */
  private checkpointed: { size: number; note: string } | undefined;
  /** Checkpoints are signed one at a time, in tree order. */
  private checkpointing: Promise<unknown> = Promise.resolve();
  private closed = false;
  private walCheckpointer: { stop(): Promise<void> } | undefined;
  private readonly walSync: WalSync;
  private witnesses: CheckpointWitness[] = [];
  /** Checkpoints are handed to the witnesses one at a time, apart from signing. */
  private witnessing: Promise<void> = Promise.resolve();

  private constructor(
    readonly store: SqliteAuditStore,
    readonly origin: string,
    readonly signer: SigningKey,
    private readonly opts: AuditOptions,
    private readonly unlock: () => void,
  ) {
    this.tree = new MerkleTree((s, e) => store.leafHashes(s, e));
    this.walSync = new WalSync(resolve(`${store.db.name}-wal`), opts.syncFile);
  }

  static async open(dataDir: string, options: Partial<AuditOptions> = {}): Promise<AuditLog> {
    const opts = { ...DEFAULT_AUDIT_OPTIONS, ...options };
    validateMask(opts.mask);
    ensureDataDir(dataDir);
    const unlock = acquireWriterLock(dataDir);
    let store: SqliteAuditStore;
    try {
      store = new SqliteAuditStore(join(dataDir, AUDIT_DB));
    } catch (e) {
      unlock();
      throw e;
    }
    try {
      let origin = store.getMeta('origin');
      if (!origin) {
        origin = `cordon.local/audit/${randomBytes(8).toString('hex')}`;
        store.setMeta('origin', origin);
      }
      let signer: SigningKey;
      try {
        signer = await loadOrCreateSigningKey(dataDir, origin, opts.signingKey);
      } catch (e) {
        throw new AuditLogError(`audit signing key: ${(e as Error).message}`);
      }
      if (signer.key.name !== origin)
        throw new AuditLogError(`signing key is for "${signer.key.name}", the log is "${origin}"`);
      const log = new AuditLog(store, origin, signer, opts, unlock);
      log.witnesses = openWitnesses(opts.witness, origin);
      await log.rebuild();
      log.walCheckpointer = startWalCheckpointer(join(dataDir, AUDIT_DB), opts.onError);
      log.timer = setInterval(() => {
        log.checkpoint().then(
          () => log.witness(), // retries a witness that failed while nothing new was signed
          (e: unknown) => opts.onError(e as Error),
        );
      }, opts.checkpointIntervalMs).unref();
      return log;
    } catch (e) {
      store.close();
      unlock();
      throw e;
    }
  }

  /**
   * Rebuilds the tree from the stored leaf hashes and checks it against the newest checkpoint
   * the log or a witness holds, and the records after it against their stored hashes: a log
   * that fails is not signed again (a signature over a rewritten or rolled-back log would
   * vouch for it).
   */
  private async rebuild(): Promise<void> {
    let expected = 0;
    for (const [seq, hash] of this.store.leaves()) {
      if (seq !== expected)
        throw new AuditLogError(
          `audit log has a gap at record ${expected}; run cordon audit verify`,
        );
      this.tree.append(hash);
      expected++;
    }
    const last = this.store.latestCheckpoint();
    if (last) this.checkpointed = this.matching(last.note, 'its last checkpoint');
    else if (this.tree.size > 0)
      throw new AuditLogError(
        `the audit log has ${this.tree.size} records but no signed checkpoint: its checkpoints were deleted; run cordon audit verify`,
      );
    for (const w of this.witnesses) {
      let note: string | undefined;
      try {
        note = await w.latest();
      } catch (e) {
        throw new AuditLogError(`witness ${w.name}: ${(e as Error).message}`);
      }
      if (note === undefined) continue;
      const cp = this.matching(note, `the checkpoint witnessed in ${w.name}`);
      if (cp.size > (this.checkpointed?.size ?? -1)) this.checkpointed = cp;
    }
    const from = this.checkpointed?.size ?? 0;
    for (const row of this.store.iterate(from)) {
      if (!hashLeaf(Buffer.from(row.record, 'utf8')).equals(row.leafHash))
        throw new AuditLogError(
          `audit record ${row.seq} does not match its stored hash; run cordon audit verify`,
        );
    }
    if (!this.checkpointed) this.signEmptyTree();
  }

  /**
   * A new log signs its empty tree at once, so that a log always holds a checkpoint: one with
   * records and none was stripped of them. No fsync needed: a record can only survive a crash
   * with every commit before it, and no other root can be signed for size 0.
   */
  private signEmptyTree(): void {
    const note = signNote(
      checkpointText({ origin: this.origin, size: 0, root: this.tree.root() }),
      this.signer.key,
      this.signer.privateKey,
    );
    this.store.addCheckpoint({ size: 0, time: new Date().toISOString(), note });
    this.checkpointed = { size: 0, note };
    this.witness();
  }

  /** A checkpoint signed by this log's key whose root the stored records produce. */
  private matching(note: string, what: string): { size: number; note: string } {
    const opened = openCheckpoint(note, this.signer.key, this.origin);
    if (!opened.ok)
      throw new AuditLogError(
        `${what} does not verify (${opened.reason}); run cordon audit verify`,
      );
    const { size, root } = opened.checkpoint;
    if (size > this.tree.size)
      throw new AuditLogError(
        `the audit log has ${this.tree.size} records, but ${what} is at size ${size}: records were removed (rolled back); run cordon audit verify`,
      );
    if (!this.tree.subtree(0, size).equals(root))
      throw new AuditLogError(
        `audit records do not match the checkpoint at size ${size} (${what}): records were rewritten; run cordon audit verify`,
      );
    return { size, note };
  }

  get size(): number {
    return this.tree.size;
  }

  get verifierKey(): string {
    return formatVerifierKey(this.signer.key);
  }

  /** Resolves with the record's index once it is durably stored; rejects if it could not be. */
  append(trace: DecisionTrace): Promise<number> {
    return this.appendStaged(trace).durable;
  }

  /** Appends, reporting when the record is written and when it is durable. */
  appendStaged(trace: DecisionTrace): StagedAppend {
    const [written, writtenP] = settle();
    const [durable, durableP] = settle();
    if (this.closed) {
      const e = new AuditLogError('audit log is closed');
      written.reject(e);
      durable.reject(e);
    } else {
      this.queue.push({ trace, written, durable });
      this.scheduleFlush();
    }
    return { written: writtenP, durable: durableP };
  }

  private scheduleFlush(): void {
    // setImmediate: every append of this turn of the event loop joins the batch.
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Commits what is queued (synchronous: no record is appended while a batch is written). */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) this.commitBatch(this.queue.splice(0, this.opts.maxBatch));
  }

  private commitBatch(batch: Pending[]): void {
    const keyId = this.signer.key.id.toString('hex');
    const fail = (p: Pending, e: unknown) => {
      const err = new AuditLogError(`audit append failed: ${(e as Error).message}`);
      p.written.reject(err);
      p.durable.reject(err);
    };
    // One record that cannot be written (say, input with a lone surrogate, which has no
    // canonical JSON) is refused alone; the rest of the batch is numbered without it.
    const kept: Pending[] = [];
    const rows: StoredRecord[] = [];
    const newSets: { version: string; sources: DecisionTrace['set']['sources'] }[] = [];
    for (const p of batch) {
      try {
        const rec = buildRecord(p.trace, this.tree.size + rows.length, keyId, this.opts);
        const text = canonical(rec);
        rows.push({
          seq: rec.seq,
          decisionId: rec.id,
          session: rec.session ?? null,
          time: rec.time,
          record: text,
          leafHash: hashLeaf(Buffer.from(text, 'utf8')),
        });
        kept.push(p);
      } catch (e) {
        fail(p, e);
        continue;
      }
      const set = p.trace.set;
      if (!this.storedVersions.has(set.version) && !newSets.some((s) => s.version === set.version))
        newSets.push({ version: set.version, sources: set.sources });
    }
    if (kept.length === 0) return;
    try {
      this.walSync.check();
      this.store.appendBatch(rows, newSets);
    } catch (e) {
      for (const p of kept) fail(p, e);
      return;
    }
    for (const s of newSets) this.storedVersions.add(s.version);
    for (const r of rows) this.tree.append(r.leafHash);
    kept.forEach((p, k) => p.written.resolve(rows[k]!.seq));
    const durable = this.opts.sync === 'full' ? this.walSync.request() : Promise.resolve();
    durable.then(
      () => kept.forEach((p, k) => p.durable.resolve(rows[k]!.seq)),
      (e: Error) => {
        for (const p of kept)
          p.durable.reject(new AuditLogError(`audit append failed: ${e.message}`));
      },
    );
  }

  /** Signs a checkpoint for the committed tree if it grew since the last one; returns the latest note. */
  checkpoint(): Promise<string | undefined> {
    const next = this.checkpointing.then(async () => {
      this.walSync.check(); // a broken log signs nothing more
      if (this.tree.size > (this.checkpointed?.size ?? -1)) {
        const size = this.tree.size;
        const note = signNote(
          checkpointText({ origin: this.origin, size, root: this.tree.root() }),
          this.signer.key,
          this.signer.privateKey,
        );
        this.store.addCheckpoint({ size, time: new Date().toISOString(), note });
        // Handed out only once durable: a signed root that a power loss could take back would
        // let the log later sign another root for the same size (a fork, to a witness). With
        // sync normal too when witnesses take it: a witness holding a size the log lost would
        // look like a rollback after a power loss.
        if (this.opts.sync === 'full' || this.witnesses.length > 0) await this.walSync.request();
        this.checkpointed = { size, note };
        this.witness(this.checkpointed);
      }
      return this.checkpointed?.note;
    });
    this.checkpointing = next.catch(() => {});
    return next;
  }

  /**
   * Hands a checkpoint (the latest by default) to every witness that does not hold it yet, in
   * the order they were signed. A witness that fails is reported and tried again with the next
   * checkpoint, or the latest one at the next tick; signing does not wait for it.
   */
  private witness(cp = this.checkpointed): void {
    if (this.witnesses.length === 0 || !cp) return;
    this.witnessing = this.witnessing.then(async () => {
      for (const w of this.witnesses) {
        if (w.size >= cp.size) continue;
        try {
          // The empty tree's checkpoint is signed without an fsync (signEmptyTree): a witness
          // holding one the disk lost would hold a note of a log that no longer exists.
          if (cp.size === 0) await this.walSync.request();
          const cosignatures = await w.add(cp, this.tree);
          if (cosignatures?.length) this.attachCosignatures(cp.size, cosignatures);
        } catch (e) {
          this.opts.onError(new AuditLogError(`witness ${w.name}: ${(e as Error).message}`));
        }
      }
    });
  }

  /** Adds a witness's cosignatures to the stored checkpoint, so proofs carry them. */
  private attachCosignatures(size: number, lines: string[]): void {
    const stored = this.store.checkpointAt(size);
    if (!stored) return;
    const note = `${stored.note}${lines.join('\n')}\n`;
    this.store.setCheckpointNote(size, note);
    if (this.checkpointed?.size === size) this.checkpointed = { size, note };
  }

  /** Inclusion proof of a decision against the latest checkpoint (signed now if needed). */
  async proof(decisionId: string): Promise<InclusionBundle | undefined> {
    const row = this.store.byDecisionId(decisionId);
    if (!row) return undefined;
    // Only a durable checkpoint (`checkpointed`): the store may already hold one whose fsync is
    // still running (or failed), and a root a power loss could take back must not leave the log.
    if (row.seq >= (this.checkpointed?.size ?? 0)) await this.checkpoint();
    return inclusionBundle(this.checkpointed, this.tree, row, this.verifierKey);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    let failure: unknown;
    try {
      this.flush();
      await this.checkpoint(); // with sync full, its fsync covers the records flushed here
    } catch (e) {
      failure = e; // still close the files: the caller learns the last checkpoint is missing
    }
    await this.witnessing; // witnesses read the tree, so before the store closes
    // Each step runs whatever the one before did; the first failure is reported.
    const steps = [
      () => this.walSync.close(),
      () => this.walCheckpointer?.stop(),
      () => this.store.close(),
      () => this.unlock(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure) throw failure;
  }
}

/** A promise and its settle functions; a rejection nobody awaits is not unhandled. */
function settle(): [Settle, Promise<number>] {
  let s!: Settle;
  const p = new Promise<number>((resolve, reject) => (s = { resolve, reject }));
  p.catch(() => {});
  return [s, p];
}

/** The proof bundle for a stored record against checkpoint `cp`, using `tree` for hashes. */
export function inclusionBundle(
  cp: { size: number; note: string } | undefined,
  tree: MerkleTree,
  row: StoredRecord,
  verifierKey: string,
): InclusionBundle {
  if (!cp || cp.size <= row.seq) {
    throw new AuditLogError(
      `record ${row.seq} is not covered by a signed checkpoint yet (the server signs one every second)`,
    );
  }
  return {
    decisionId: row.decisionId,
    index: row.seq,
    record: JSON.parse(row.record) as AuditRecord,
    leafHash: row.leafHash.toString('base64'),
    treeSize: cp.size,
    inclusion: tree.inclusionProof(row.seq, cp.size).map((h) => h.toString('base64')),
    checkpoint: cp.note,
    verifierKey,
  };
}

/** A tree over the stored leaf hashes (for tools that read the log beside a running server). */
export function treeFromStore(store: SqliteAuditStore): MerkleTree {
  const tree = new MerkleTree((s, e) => store.leafHashes(s, e));
  for (const [, hash] of store.leaves()) tree.append(hash);
  return tree;
}

/** The same for any store behind the port, its leaf hashes held in memory. */
export async function treeFromReader(store: AuditReader): Promise<MerkleTree> {
  const leaves: Hash[] = [];
  const tree = new MerkleTree((s, e) => leaves.slice(s, e));
  for await (const [seq, hash] of store.leaves()) {
    if (seq !== leaves.length)
      throw new AuditLogError(`audit log has a gap at record ${leaves.length}`);
    leaves.push(hash);
    tree.append(hash);
  }
  return tree;
}
