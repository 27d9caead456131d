// Offline verification of an inclusion bundle (`cordon audit proof` output) with nothing but
// the log's verifier key: the record hashes to the leaf, the leaf is in the tree, the tree is
// the one the key signed.

import { hashLeaf, verifyInclusion } from './merkle.js';
import { openCheckpoint, type NoteKey } from './note.js';
import { canonical } from './record.js';
import type { InclusionBundle } from './log.js';

export type ProofCheck =
  { ok: true; index: number; treeSize: number } | { ok: false; reason: string };

export function checkInclusionBundle(bundle: InclusionBundle, key: NoteKey): ProofCheck {
  const cp = openCheckpoint(bundle.checkpoint, key);
  if (!cp.ok) return { ok: false, reason: `checkpoint: ${cp.reason}` };
  const { size, root } = cp.checkpoint;
  if (bundle.treeSize !== size)
    return {
      ok: false,
      reason: `proof is for size ${bundle.treeSize}, the checkpoint signs size ${size}`,
    };
  let leaf: Buffer;
  try {
    leaf = hashLeaf(Buffer.from(canonical(bundle.record), 'utf8'));
  } catch {
    return { ok: false, reason: 'record is not JSON' };
  }
  if (bundle.record.seq !== bundle.index)
    return {
      ok: false,
      reason: `record says index ${bundle.record.seq}, proof says ${bundle.index}`,
    };
  if (bundle.record.id !== bundle.decisionId)
    return { ok: false, reason: 'record is for another decision' };
  const proof = bundle.inclusion.map((h) => Buffer.from(h, 'base64'));
  if (!verifyInclusion(bundle.index, size, leaf, proof, root)) {
    return { ok: false, reason: 'the record is not included in the signed tree at that index' };
  }
  return { ok: true, index: bundle.index, treeSize: size };
}
