// RFC 6962 / RFC 9162 Merkle tree: leaf and node hashing, an append-only tree with an
// O(log n) frontier, subtree hashes for proofs, and inclusion and consistency proofs with
// their verification algorithms (RFC 9162 §2.1.3–2.1.4). Sizes are plain numbers: no bit
// operators, so trees past 2^31 leaves stay correct.

import { createHash } from 'node:crypto';

export type Hash = Buffer;

const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export function hashLeaf(data: Uint8Array): Hash {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Hash {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

const odd = (x: number) => x % 2 === 1;
const half = (x: number) => Math.floor(x / 2);
const isPowerOfTwo = (n: number) => n > 0 && Number.isInteger(Math.log2(n));

/** The largest power of two strictly smaller than n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over a list of leaf hashes, straight from the RFC definition. */
export function rootOf(leaves: Hash[], start = 0, end = leaves.length): Hash {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[start]!;
  const k = split(n);
  return hashChildren(rootOf(leaves, start, start + k), rootOf(leaves, start + k, end));
}

/** Reads the leaf hashes of [start, end) from wherever they are kept. */
export type LeafSource = (start: number, end: number) => Hash[];

/**
 * An append-only tree. Keeps the frontier (roots of the perfect subtrees that make up the
 * tree) for O(log n) appends and roots, and the hashes of complete subtrees at or above
 * `cacheLevel` for proofs. Below that level, hashes are recomputed from leaves read from the
 * source (at most 2^cacheLevel of them per subtree).
 */
export class MerkleTree {
  size = 0;
  private readonly frontier: (Hash | undefined)[] = [];
  private readonly levels: Hash[][] = [];

  constructor(
    private readonly leaves: LeafSource,
    private readonly cacheLevel = 6,
  ) {}

  append(leaf: Hash): void {
    let node = leaf;
    let level = 0;
    let index = this.size; // index of the node at `level` that just completed
    this.keep(0, index, node);
    while (this.frontier[level]) {
      node = hashChildren(this.frontier[level]!, node);
      this.frontier[level] = undefined;
      level++;
      index = half(index);
      this.keep(level, index, node);
    }
    this.frontier[level] = node;
    this.size++;
  }

  private keep(level: number, index: number, node: Hash): void {
    if (level < this.cacheLevel) return;
    (this.levels[level] ??= [])[index] = node;
  }

  root(): Hash {
    let acc: Hash | undefined;
    for (const node of this.frontier) {
      if (node) acc = acc ? hashChildren(node, acc) : node;
    }
    return acc ?? EMPTY_ROOT;
  }

  /** Leaf blocks read during one proof: its small subtrees share them. */
  private blocks: Map<number, Hash[]> | undefined;

  /** MTH(D[start:end]) for 0 ≤ start < end ≤ size. */
  subtree(start: number, end: number): Hash {
    const n = end - start;
    const block = 2 ** this.cacheLevel;
    if (n <= block) {
      // A node of at most `block` leaves lies inside one aligned block of the tree.
      const first = Math.floor(start / block) * block;
      let leaves = this.blocks?.get(first);
      if (!leaves) {
        leaves = this.leaves(first, Math.min(first + block, this.size));
        this.blocks?.set(first, leaves);
      }
      return rootOf(leaves, start - first, end - first);
    }
    if (isPowerOfTwo(n) && start % n === 0) {
      const cached = this.levels[Math.log2(n)]?.[start / n];
      if (cached) return cached;
    }
    const k = split(n);
    return hashChildren(this.subtree(start, start + k), this.subtree(start + k, end));
  }

  private withBlocks<T>(fn: () => T): T {
    this.blocks = new Map();
    try {
      return fn();
    } finally {
      this.blocks = undefined;
    }
  }

  /** RFC 9162 §2.1.3.1 PATH(m, D[n]). */
  inclusionProof(index: number, size: number): Hash[] {
    return this.withBlocks(() => this.path(index, size));
  }

  private path(index: number, size: number): Hash[] {
    if (index < 0 || index >= size || size > this.size)
      throw new RangeError(`no leaf ${index} in a tree of size ${size}`);
    const path = (m: number, start: number, end: number): Hash[] => {
      if (end - start === 1) return [];
      const k = split(end - start);
      return m < k
        ? [...path(m, start, start + k), this.subtree(start + k, end)]
        : [...path(m - k, start + k, end), this.subtree(start, start + k)];
    };
    return path(index, 0, size);
  }

  /** RFC 9162 §2.1.4.1 PROOF(m, D[n]). */
  consistencyProof(size1: number, size2: number): Hash[] {
    return this.withBlocks(() => this.consistency(size1, size2));
  }

  private consistency(size1: number, size2: number): Hash[] {
    if (size1 < 0 || size1 > size2 || size2 > this.size)
      throw new RangeError(`no consistency proof from ${size1} to ${size2}`);
    if (size1 === 0 || size1 === size2) return [];
    const sub = (m: number, start: number, end: number, whole: boolean): Hash[] => {
      const n = end - start;
      if (m === n) return whole ? [] : [this.subtree(start, end)];
      const k = split(n);
      return m <= k
        ? [...sub(m, start, start + k, whole), this.subtree(start + k, end)]
        : [...sub(m - k, start + k, end, false), this.subtree(start, start + k)];
    };
    return sub(size1, 0, size2, true);
  }
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or undefined if it is malformed. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Hash,
  proof: Hash[],
): Hash | undefined {
  if (index >= size || index < 0) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return undefined;
    if (odd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: Hash[],
  root: Hash,
): boolean {
  const r = rootFromInclusionProof(index, size, leaf, proof);
  return r !== undefined && root.length === 32 && r.equals(root);
}

/** RFC 9162 §2.1.4.2. */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: Hash[],
  root1: Hash,
  root2: Hash,
): boolean {
  if (size1 < 0 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  // When size1 is a power of two, its root is a node of the proof path itself.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}
