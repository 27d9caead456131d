// Checks a console proof (GET /v1/console/decisions/{id}/proof) with nothing but WebCrypto, so
// the same code runs in a browser and in Node: the record's bytes hash to the leaf, the RFC 9162
// inclusion path leads from the leaf to the checkpoint's root, and the checkpoint text carries an
// Ed25519 signature by the given key. No Node APIs here (the console imports this file).

export interface ConsoleProof {
  decisionId: string;
  index: number;
  treeSize: number;
  recordText: string;
  leafHash: string;
  inclusion: string[];
  checkpoint: {
    text: string;
    origin: string;
    size: number;
    root: string;
    signatures: { keyName: string; keyId: string; signature: string }[];
  };
  key: { name: string; id: string; publicKey: string };
}

export type WebProofCheck =
  { ok: true; index: number; treeSize: number; origin: string } | { ok: false; reason: string };

const fromBase64 = (b64: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

/** RFC 9162 §2.1.3.2: the root an inclusion path leads to, or undefined if it cannot. */
export async function rootFromInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: Uint8Array[],
): Promise<Uint8Array | undefined> {
  if (index >= size) return undefined;
  const node = new Uint8Array([1]);
  // Plain numbers and halving, no bit operators: trees past 2^31 leaves stay correct.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(node, p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else r = await sha256(node, r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** Checks a console proof against `key` (compare it with a copy of the verifier key you trust). */
export async function checkConsoleProof(p: ConsoleProof): Promise<WebProofCheck> {
  const text = new TextEncoder().encode(p.recordText);
  const leaf = await sha256(new Uint8Array([0]), text);
  if (!equal(leaf, fromBase64(p.leafHash)))
    return { ok: false, reason: 'the record does not hash to the leaf' };
  let record: { id?: unknown; seq?: unknown };
  try {
    record = JSON.parse(p.recordText) as typeof record;
  } catch {
    return { ok: false, reason: 'the record is not JSON' };
  }
  if (record.id !== p.decisionId)
    return { ok: false, reason: 'the record is for another decision' };
  if (record.seq !== p.index) return { ok: false, reason: 'the record is at another index' };
  const [origin, size, root, ...rest] = p.checkpoint.text.split('\n');
  if (rest.join('') !== '' || !origin || !/^\d+$/.test(size ?? '') || !root)
    return { ok: false, reason: 'the checkpoint text is malformed' };
  if (Number(size) !== p.treeSize)
    return {
      ok: false,
      reason: `the proof is for size ${p.treeSize}, the checkpoint signs ${size}`,
    };
  const computed = await rootFromInclusion(p.index, p.treeSize, leaf, p.inclusion.map(fromBase64));
  if (!computed || !equal(computed, fromBase64(root)))
    return { ok: false, reason: 'the record is not included in the signed tree' };
  // The key id is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4] (c2sp.org/signed-note): recompute it.
  const publicKey = fromBase64(p.key.publicKey);
  const idBytes = (
    await sha256(new TextEncoder().encode(p.key.name), new Uint8Array([0x0a, 0x01]), publicKey)
  ).subarray(0, 4);
  const hexId = [...idBytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (hexId !== p.key.id) return { ok: false, reason: 'the key id does not match the key' };
  const sig = p.checkpoint.signatures.find((s) => s.keyName === p.key.name && s.keyId === p.key.id);
  if (!sig) return { ok: false, reason: `the checkpoint is not signed by ${p.key.name}` };
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, [
    'verify',
  ]);
  const signed = await crypto.subtle.verify(
    { name: 'Ed25519' },
    key,
    fromBase64(sig.signature),
    new TextEncoder().encode(p.checkpoint.text),
  );
  if (!signed) return { ok: false, reason: 'the checkpoint signature does not verify' };
  return { ok: true, index: p.index, treeSize: p.treeSize, origin };
}
