// `cordon audit verify`: recompute the whole log from its records and check it against every
// signed checkpoint. Reports the first bad index: a record whose bytes do not match its hash,
// a missing or out-of-place record, a checkpoint whose signature fails or whose root the
// records no longer produce, a tail cut off below a signed size. A log with no checkpoint
// signed by the trusted key fails: nothing ties its records to that key. Checkpoints seen
// elsewhere (a witness, an earlier run) and a minimum size catch what the log alone cannot
// show: its newest records and checkpoints deleted, or everything rewritten above them.

import { hashLeaf, MerkleTree, verifyConsistency, type Hash } from './merkle.js';
import { openCheckpoint, type Checkpoint, type NoteKey } from './note.js';
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

export function verifyLog(
  store: SqliteAuditStore,
  key: NoteKey,
  origin: string,
  options: VerifyOptions = {},
): VerifyReport {
  const { progress } = options;
  const total = store.count();
  const leaves: Hash[] = [];
  // Subtrees of 16 leaves and more are kept; smaller ones are rehashed from `leaves` for proofs.
  const tree = new MerkleTree((s, e) => leaves.slice(s, e), 4);
  const opened: Checkpoint[] = [];
  const fail = (index: number, message: string): VerifyReport => ({
    ok: false,
    records: tree.size,
    checkpoints: opened.length,
    problem: { index, message },
  });

  // Every checkpoint must carry the log key's signature, for this log.
  for (const cp of store.checkpoints()) {
    const r = openCheckpoint(cp.note, key, origin);
    if (!r.ok) return fail(cp.size, `checkpoint at size ${cp.size}: ${r.reason}`);
    if (r.checkpoint.size !== cp.size)
      return fail(cp.size, `checkpoint stored at size ${cp.size} says size ${r.checkpoint.size}`);
    opened.push(r.checkpoint);
  }

  let next = 0; // next checkpoint to compare against
  let previous: Checkpoint | undefined;
  const compare = (): VerifyReport | undefined => {
    while (next < opened.length && opened[next]!.size === tree.size) {
      const cp = opened[next]!;
      if (!tree.root().equals(cp.root)) {
        const from = previous?.size ?? 0;
        return fail(
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
        return fail(
          previous.size,
          `checkpoints at sizes ${previous.size} and ${cp.size} are not consistent`,
        );
      }
      previous = cp;
      next++;
    }
    return undefined;
  };

  const early = compare();
  if (early) return early;
  for (const row of store.iterate()) {
    const i = tree.size;
    if (row.seq !== i) return fail(i, `record ${i} is missing (next stored record is ${row.seq})`);
    let parsed: { seq?: unknown; id?: unknown };
    try {
      parsed = JSON.parse(row.record) as { seq?: unknown; id?: unknown };
    } catch {
      return fail(i, `record ${i} is not valid JSON`);
    }
    if (parsed.seq !== i)
      return fail(i, `record ${i} says it is record ${String(parsed.seq)} (records moved)`);
    if (parsed.id !== row.decisionId)
      return fail(i, `record ${i} does not match its decision id column`);
    const leaf = hashLeaf(Buffer.from(row.record, 'utf8'));
    if (!leaf.equals(row.leafHash))
      return fail(i, `record ${i} does not match its stored hash (content changed)`);
    leaves.push(leaf);
    tree.append(leaf);
    const bad = compare();
    if (bad) return bad;
    if (progress && (tree.size % 10_000 === 0 || tree.size === total)) progress(tree.size, total);
  }
  if (next < opened.length) {
    return fail(
      tree.size,
      `log truncated: checkpoint at size ${opened[next]!.size} but only ${tree.size} records`,
    );
  }
  const newest = opened.at(-1);
  const keyName = `${key.name}+${key.id.toString('hex')}`;
  if (!newest)
    return fail(
      0,
      `no checkpoint signed by ${keyName}: nothing ties these records to the key (were the checkpoints deleted?)`,
    );
  if (options.minSize !== undefined && newest.size < options.minSize)
    return fail(
      newest.size,
      `log rolled back: its newest checkpoint is at size ${newest.size}, below the expected ${options.minSize}`,
    );
  const witnessed: Checkpoint[] = [];
  for (const [k, note] of (options.witnessed ?? []).entries()) {
    const w = openCheckpoint(note, key, origin);
    if (!w.ok) return fail(0, `witnessed checkpoint ${k + 1}: ${w.reason}`);
    witnessed.push(w.checkpoint);
  }
  const largest = witnessed.reduce((max, w) => Math.max(max, w.size), -1);
  if (largest > newest.size)
    return fail(
      newest.size,
      `log rolled back: a checkpoint at size ${largest} was witnessed, the log's newest is at size ${newest.size}`,
    );
  for (const { size, root } of [...witnessed].sort((a, b) => a.size - b.size)) {
    // RFC 9162 §2.1.4: the log's newest checkpoint must extend the witnessed one.
    const proof = tree.consistencyProof(size, newest.size);
    if (!verifyConsistency(size, newest.size, proof, root, newest.root))
      return fail(
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
