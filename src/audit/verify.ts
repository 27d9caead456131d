// `cordon audit verify`: recompute the whole log from its records and check it against every
// signed checkpoint. Reports the first bad index: a record whose bytes do not match its hash,
// a missing or out-of-place record, a checkpoint whose signature fails or whose root the
// records no longer produce, a tail cut off below a signed size. A log with no checkpoint
// signed by the trusted key fails: nothing ties its records to that key. Checkpoints seen
// elsewhere (a witness, an earlier run) and a minimum size catch what the log alone cannot
// show: its newest records and checkpoints deleted, or everything rewritten above them.

import { hashLeaf, MerkleTree, verifyConsistency, type Hash } from './merkle.js';
import { openCheckpoint, type Checkpoint, type NoteKey } from './note.js';
import type { AuditReader, StoredCheckpoint, StoredRecord } from '../store/audit-port.js';
import type { SqliteAuditStore } from './sqlite-store.js';

export interface VerifyProblem {
  /** The first log index the problem concerns. */
  index: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  records: number;
  checkpoints: number;
  /** The newest checkpoint's size. */
  signedSize?: number;
  /** How many outside checkpoints were checked for consistency. */
  witnessed?: number;
  problem?: VerifyProblem;
}

export interface VerifyOptions {
  /** The newest checkpoint must be at least this large (a size recorded earlier). */
  minSize?: number;
  /** Checkpoints seen outside the log (a witness file, an earlier run): the log must extend each. */
  witnessed?: string[];
  progress?: (done: number, total: number) => void;
}

/**
 * The checks, fed one record at a time, so that a store read synchronously (SQLite) and one read
 * asynchronously (PostgreSQL) run the same code. `start` opens the checkpoints; `add` takes each
 * record in seq order and returns a failed report at the first problem; `finish` the rest.
 */
class LogVerifier {
  private readonly leaves: Hash[] = [];
  // Subtrees of 16 leaves and more are kept; smaller ones are rehashed from `leaves` for proofs.
  private readonly tree = new MerkleTree((s, e) => this.leaves.slice(s, e), 4);
  private readonly opened: Checkpoint[] = [];
  private next = 0; // next checkpoint to compare against
  private previous: Checkpoint | undefined;

  constructor(
    private readonly key: NoteKey,
    private readonly origin: string,
    private readonly options: VerifyOptions,
    private readonly total: number,
  ) {}

  private fail(index: number, message: string): VerifyReport {
    return {
      ok: false,
      records: this.tree.size,
      checkpoints: this.opened.length,
      problem: { index, message },
    };
  }

  /** Every checkpoint must carry the log key's signature, for this log. */
  start(checkpoints: StoredCheckpoint[]): VerifyReport | undefined {
    for (const cp of checkpoints) {
      const r = openCheckpoint(cp.note, this.key, this.origin);
      if (!r.ok) return this.fail(cp.size, `checkpoint at size ${cp.size}: ${r.reason}`);
      if (r.checkpoint.size !== cp.size)
        return this.fail(
          cp.size,
          `checkpoint stored at size ${cp.size} says size ${r.checkpoint.size}`,
        );
      this.opened.push(r.checkpoint);
    }
    return this.compare();
  }

  private compare(): VerifyReport | undefined {
    const { opened, tree } = this;
    while (this.next < opened.length && opened[this.next]!.size === tree.size) {
      const cp = opened[this.next]!;
      const previous = this.previous;
      if (!tree.root().equals(cp.root)) {
        const from = previous?.size ?? 0;
        return this.fail(
          from,
          `records ${from}…${cp.size - 1} do not produce the root signed at size ${cp.size}`,
        );
      }
      // Successive checkpoints must be consistent (RFC 9162 §2.1.4), as a monitor would check.
      if (
        previous &&
        !verifyConsistency(
          previous.size,
          cp.size,
          tree.consistencyProof(previous.size, cp.size),
          previous.root,
          cp.root,
        )
      ) {
        return this.fail(
          previous.size,
          `checkpoints at sizes ${previous.size} and ${cp.size} are not consistent`,
        );
      }
      this.previous = cp;
      this.next++;
    }
    return undefined;
  }

  add(row: StoredRecord): VerifyReport | undefined {
    const { tree } = this;
    const i = tree.size;
    if (row.seq !== i)
      return this.fail(i, `record ${i} is missing (next stored record is ${row.seq})`);
    let parsed: { seq?: unknown; id?: unknown };
    try {
      parsed = JSON.parse(row.record) as { seq?: unknown; id?: unknown };
    } catch {
      return this.fail(i, `record ${i} is not valid JSON`);
    }
    if (parsed.seq !== i)
      return this.fail(i, `record ${i} says it is record ${String(parsed.seq)} (records moved)`);
    if (parsed.id !== row.decisionId)
      return this.fail(i, `record ${i} does not match its decision id column`);
    const leaf = hashLeaf(Buffer.from(row.record, 'utf8'));
    if (!leaf.equals(row.leafHash))
      return this.fail(i, `record ${i} does not match its stored hash (content changed)`);
    this.leaves.push(leaf);
    tree.append(leaf);
    const bad = this.compare();
    if (bad) return bad;
    const { progress } = this.options;
    if (progress && (tree.size % 10_000 === 0 || tree.size === this.total))
      progress(tree.size, this.total);
    return undefined;
  }

  finish(): VerifyReport {
    const { opened, tree, key, origin, options } = this;
    if (this.next < opened.length) {
      return this.fail(
        tree.size,
        `log truncated: checkpoint at size ${opened[this.next]!.size} but only ${tree.size} records`,
      );
    }
    const newest = opened.at(-1);
    const keyName = `${key.name}+${key.id.toString('hex')}`;
    if (!newest)
      return this.fail(
        0,
        `no checkpoint signed by ${keyName}: nothing ties these records to the key (were the checkpoints deleted?)`,
      );
    if (options.minSize !== undefined && newest.size < options.minSize)
      return this.fail(
        newest.size,
        `log rolled back: its newest checkpoint is at size ${newest.size}, below the expected ${options.minSize}`,
      );
    const witnessed: Checkpoint[] = [];
    for (const [k, note] of (options.witnessed ?? []).entries()) {
      const w = openCheckpoint(note, key, origin);
      if (!w.ok) return this.fail(0, `witnessed checkpoint ${k + 1}: ${w.reason}`);
      witnessed.push(w.checkpoint);
    }
    const largest = witnessed.reduce((max, w) => Math.max(max, w.size), -1);
    if (largest > newest.size)
      return this.fail(
        newest.size,
        `log rolled back: a checkpoint at size ${largest} was witnessed, the log's newest is at size ${newest.size}`,
      );
    for (const { size, root } of [...witnessed].sort((a, b) => a.size - b.size)) {
      // RFC 9162 §2.1.4: the log's newest checkpoint must extend the witnessed one.
      const proof = tree.consistencyProof(size, newest.size);
      if (!verifyConsistency(size, newest.size, proof, root, newest.root))
        return this.fail(
          0,
          `records 0…${size - 1} were rewritten: the log is not consistent with the checkpoint witnessed at size ${size}`,
        );
    }
    return {
      ok: true,
      records: tree.size,
      checkpoints: opened.length,
      signedSize: newest.size,
      witnessed: witnessed.length,
    };
  }
}

/** Verifies an embedded (SQLite) log, synchronously. */
export function verifyLog(
  store: SqliteAuditStore,
  key: NoteKey,
  origin: string,
  options: VerifyOptions = {},
): VerifyReport {
  const v = new LogVerifier(key, origin, options, store.count());
  const early = v.start(store.checkpoints());
  if (early) return early;
  for (const row of store.iterate()) {
    const bad = v.add(row);
    if (bad) return bad;
  }
  return v.finish();
}

/** Verifies a log behind the store port (the cluster log in PostgreSQL, or an embedded one). */
export async function verifyStore(
  store: AuditReader,
  key: NoteKey,
  origin: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  // The checkpoints first, then the records: a checkpoint signed while records are read is left
  // for the next run, and records sequenced meanwhile are read as unsigned ones.
  const checkpoints = await store.checkpoints();
  const v = new LogVerifier(key, origin, options, await store.count());
  const early = v.start(checkpoints);
  if (early) return early;
  for await (const row of store.iterate()) {
    const bad = v.add(row);
    if (bad) return bad;
  }
  return v.finish();
}
