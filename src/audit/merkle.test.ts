import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  hashLeaf,
  MerkleTree,
  rootFromInclusionProof,
  rootOf,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from './merkle.js';

// Test vectors of RFC 6962 trees, as published with the transparency-dev/merkle reference code.
const h = (hex: string) => Buffer.from(hex, 'hex');
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(h);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(h);
// [leaf (1-based), tree size, proof]
const INCLUSION: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    2,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

function treeOf(leafHashes: Hash[], cacheLevel = 0): MerkleTree {
  const t = new MerkleTree((s, e) => leafHashes.slice(s, e), cacheLevel);
  for (const l of leafHashes) t.append(l);
  return t;
}

const leafHashes = LEAVES.map(hashLeaf);

describe('RFC 6962 test vectors', () => {
  it('computes every root, incrementally and from scratch', () => {
    assert.deepEqual(EMPTY_ROOT, ROOTS[0]);
    const t = new MerkleTree((s, e) => leafHashes.slice(s, e));
    assert.deepEqual(t.root(), ROOTS[0]);
    leafHashes.forEach((l, i) => {
      t.append(l);
      assert.equal(t.root().toString('hex'), ROOTS[i + 1]!.toString('hex'), `size ${i + 1}`);
      assert.deepEqual(rootOf(leafHashes.slice(0, i + 1)), ROOTS[i + 1]);
    });
  });

  it('produces and verifies the published inclusion proofs', () => {
    const t = treeOf(leafHashes);
    for (const [leaf, size, proof] of INCLUSION) {
      const expected = proof.map(h);
      assert.deepEqual(t.inclusionProof(leaf - 1, size), expected, `leaf ${leaf} of ${size}`);
      assert.ok(verifyInclusion(leaf - 1, size, leafHashes[leaf - 1]!, expected, ROOTS[size]!));
    }
  });

  it('produces and verifies the published consistency proofs', () => {
    const t = treeOf(leafHashes);
    for (const [size1, size2, proof] of CONSISTENCY) {
      const expected = proof.map(h);
      assert.deepEqual(t.consistencyProof(size1, size2), expected, `${size1} → ${size2}`);
      assert.ok(verifyConsistency(size1, size2, expected, ROOTS[size1]!, ROOTS[size2]!));
    }
  });

  it('rejects corrupted inclusion proofs', () => {
    const [leaf, size, raw] = INCLUSION[2]!;
    const proof = raw.map(h);
    const lh = leafHashes[leaf - 1]!;
    const root = ROOTS[size]!;
    const flipped = proof.map((p, i) =>
      i === 1 ? Buffer.from(p.map((b, j) => (j === 0 ? b ^ 8 : b))) : p,
    );
    const bad: [number, number, Hash, Hash[], Hash][] = [
      [leaf - 2, size, lh, proof, root],
      [leaf, size, lh, proof, root],
      [leaf - 1, size * 2, lh, proof, root],
      [leaf - 1, size / 2, lh, proof, root],
      [leaf - 1, size, hashLeaf(Buffer.from('wrong')), proof, root],
      [leaf - 1, size, lh, proof, ROOTS[0]!],
      [leaf - 1, size, lh, [...proof, root], root],
      [leaf - 1, size, lh, [root, ...proof], root],
      [leaf - 1, size, lh, proof.slice(0, -1), root],
      [leaf - 1, size, lh, flipped, root],
    ];
    for (const args of bad)
      assert.equal(verifyInclusion(...args), false, JSON.stringify(args.slice(0, 2)));
    assert.equal(rootFromInclusionProof(8, 8, lh, proof), undefined);
  });

  it('rejects corrupted consistency proofs', () => {
    const [s1, s2, raw] = CONSISTENCY[2]!;
    const proof = raw.map(h);
    const r1 = ROOTS[s1]!;
    const r2 = ROOTS[s2]!;
    const bad: [number, number, Hash[], Hash, Hash][] = [
      [s1 - 1, s2, proof, r1, r2],
      [s1 + 1, s2, proof, r1, r2],
      [s1, s2 * 2, proof, r1, r2],
      [s1, s2, proof, r2, r1],
      [s1, s2, [], r1, r2],
      [s1, s2, proof.slice(0, -1), r1, r2],
      [s1, s2, [...proof, r1], r1, r2],
      [s1, s2, [proof[0]!, ...proof], r1, r2],
      [s2, s1, proof, r2, r1],
    ];
    for (const args of bad)
      assert.equal(verifyConsistency(...args), false, JSON.stringify(args.slice(0, 2)));
  });
});

describe('MerkleTree', () => {
  it('agrees with the RFC definition for any size and cache level, and its proofs verify', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 4 }),
        fc.nat(),
        fc.nat(),
        (n, cacheLevel, a, b) => {
          const leaves = Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
          const t = treeOf(leaves, cacheLevel);
          const root = rootOf(leaves);
          assert.deepEqual(t.root(), root);
          const index = a % n;
          assert.ok(verifyInclusion(index, n, leaves[index]!, t.inclusionProof(index, n), root));
          const size1 = (b % n) + 1;
          const root1 = rootOf(leaves.slice(0, size1));
          assert.ok(verifyConsistency(size1, n, t.consistencyProof(size1, n), root1, root));
        },
      ),
      { numRuns: 200 },
    );
  });
});
