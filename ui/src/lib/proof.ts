// Checks a decision's inclusion proof in the browser, with WebCrypto and nothing from the server
// but the bundle itself: the checkpoint is a C2SP signed note whose Ed25519 signature must verify
// under the verifier key the person trusts (c2sp.org/signed-note, tlog-checkpoint); the record,
// as RFC 8785 canonical JSON, hashes to the leaf (SHA-256 of 0x00 || bytes); and the RFC 9162
// §2.1.3.2 audit path from that leaf must lead to the checkpoint's root. The server's
// `cordon audit check-proof` (src/audit/check-proof.ts) does the same in Node; this one runs
// where the person is, so a server that lies cannot also vouch for itself.

import { canonicalJson } from '../../../src/core/canonical-json.js';

/** What the server hands over (GET /v1/console/decisions/{id}/proof): data, not a verdict. */
export interface InclusionBundle {
  decisionId: string;
  index: number;
  treeSize: number;
  /** The exact canonical record text that was hashed into the leaf. */
  recordText: string;
  inclusion: string[];
  checkpoint: { note: string };
}

export type ProofStep = { step: string; ok: boolean; detail: string };
export type ProofResult = { ok: boolean; steps: ProofStep[]; reason?: string };

const subtle = () => {
  if (!globalThis.crypto?.subtle)
    throw new Error('this browser offers no WebCrypto here (a secure context is needed)');
  return globalThis.crypto.subtle;
};

/** Bytes WebCrypto accepts (its BufferSource excludes views of a SharedArrayBuffer). */
type Bytes = Uint8Array<ArrayBuffer>;

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);

function b64decode(s: string): Bytes {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const hex = (b: Bytes) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const equal = (a: Bytes, b: Bytes) => a.length === b.length && a.every((x, i) => x === b[i]);

async function sha256(...parts: Bytes[]): Promise<Bytes> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', all));
}

const hashLeaf = (data: Bytes) => sha256(new Uint8Array([0]), data);
const hashChildren = (l: Bytes, r: Bytes) => sha256(new Uint8Array([1]), l, r);

export interface VerifierKey {
  name: string;
  id: Bytes;
  publicKey: Bytes;
}

/** `<name>+<key id hex>+<base64(0x01 || Ed25519 public key)>`, its id checked. */
export async function parseVerifierKey(text: string): Promise<VerifierKey> {
  const t = text.trim();
  const a = t.indexOf('+');
  const b = a < 0 ? -1 : t.indexOf('+', a + 1);
  if (a <= 0 || b < 0) throw new Error('a verifier key is <name>+<id>+<base64 key>');
  const [name, idHex, b64] = [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
  let raw: Bytes;
  try {
    raw = b64decode(b64);
  } catch {
    throw new Error('the verifier key is not base64 after its id');
  }
  if (raw.length !== 33 || raw[0] !== 0x01) throw new Error('the verifier key is not Ed25519');
  const publicKey = raw.subarray(1);
  // key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]
  const id = (await sha256(utf8(name), new Uint8Array([0x0a, 0x01]), publicKey)).subarray(0, 4);
  if (hex(id) !== idHex.toLowerCase())
    throw new Error('the verifier key id does not match its name and key');
  return { name, id, publicKey };
}

/** The signed text of a note if `key` signed it (signatures by other keys are ignored). */
export async function openNote(note: string, key: VerifierKey): Promise<string> {
  const sep = note.lastIndexOf('\n\n');
  if (sep < 0) throw new Error('malformed note: no blank line before the signatures');
  const text = note.slice(0, sep + 1);
  const lines = note.slice(sep + 2).split('\n');
  if (lines.at(-1) === '') lines.pop();
  const ed = await subtle().importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
  let signed = false;
  for (const line of lines) {
    const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) throw new Error('malformed signature line');
    const blob = b64decode(m[2]!);
    if (m[1] !== key.name || blob.length < 4 || !equal(blob.subarray(0, 4), key.id)) continue;
    if (!(await subtle().verify({ name: 'Ed25519' }, ed, blob.subarray(4), utf8(text))))
      throw new Error(`the signature by ${key.name} does not verify`);
    signed = true;
  }
  if (!signed) throw new Error(`not signed by ${key.name}+${hex(key.id)}`);
  return text;
}

/** RFC 9162 §2.1.3.2: the root the audit path leads to, or undefined when it is malformed. */
export async function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Bytes,
  proof: Bytes[],
): Promise<Bytes | undefined> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  const odd = (x: number) => x % 2 === 1;
  const half = (x: number) => Math.floor(x / 2);
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return undefined;
    if (odd(fn) || fn === sn) {
      r = await hashChildren(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

/** Every step of the check, in order; stops at the first that fails. */
export async function checkInclusion(
  bundle: InclusionBundle,
  displayed: unknown,
  trustedKey: string,
): Promise<ProofResult> {
  const steps: ProofStep[] = [];
  const fail = (step: string, detail: string): ProofResult => {
    steps.push({ step, ok: false, detail });
    return { ok: false, steps, reason: `${step}: ${detail}` };
  };
  let key: VerifierKey;
  try {
    key = await parseVerifierKey(trustedKey);
  } catch (e) {
    return fail('verifier key', (e as Error).message);
  }
  steps.push({ step: 'verifier key', ok: true, detail: `${key.name}+${hex(key.id)}` });

  let size: number;
  let root: Bytes;
  try {
    const text = await openNote(bundle.checkpoint.note, key);
    const [origin, sizeText, rootText] = text.split('\n');
    if (!origin || !sizeText || !/^\d+$/.test(sizeText) || !rootText)
      throw new Error('malformed checkpoint body');
    size = Number(sizeText);
    root = b64decode(rootText);
    if (root.length !== 32) throw new Error('the checkpoint root is not 32 bytes');
    steps.push({
      step: 'checkpoint signature',
      ok: true,
      detail: `Ed25519 signature verifies; ${origin} signs size ${size}, root ${hex(root).slice(0, 16)}…`,
    });
  } catch (e) {
    return fail('checkpoint signature', (e as Error).message);
  }
  if (bundle.treeSize !== size)
    return fail(
      'tree size',
      `the proof is for size ${bundle.treeSize}, the checkpoint signs ${size}`,
    );

  // The record the page shows must be the one that was hashed, byte for byte.
  let shown: string | undefined;
  try {
    shown = canonicalJson(displayed);
  } catch (e) {
    return fail('record', `the record has no canonical JSON form (${(e as Error).message})`);
  }
  if (shown !== bundle.recordText)
    return fail('record', 'the record shown is not the record the proof is for');
  let parsed: { seq?: unknown; id?: unknown };
  try {
    parsed = JSON.parse(bundle.recordText) as typeof parsed;
  } catch {
    return fail('record', 'the hashed record is not JSON');
  }
  if (parsed.seq !== bundle.index)
    return fail('record', `the record says index ${String(parsed.seq)}, the proof ${bundle.index}`);
  if (parsed.id !== bundle.decisionId) return fail('record', 'the record is for another decision');
  const leaf = await hashLeaf(utf8(bundle.recordText));
  steps.push({
    step: 'record',
    ok: true,
    detail: `RFC 8785 text of the record shown; leaf SHA-256(0x00 ‖ record) = ${hex(leaf).slice(0, 16)}…`,
  });

  let path: Bytes[];
  try {
    path = bundle.inclusion.map(b64decode);
  } catch {
    return fail('inclusion path', 'a hash of the path is not base64');
  }
  const computed = await rootFromInclusionProof(bundle.index, size, leaf, path);
  if (!computed)
    return fail('inclusion path', 'the audit path is malformed for this index and size');
  if (!equal(computed, root))
    return fail(
      'inclusion path',
      'the record is not included in the signed tree at that index (the path leads to another root)',
    );
  steps.push({
    step: 'inclusion path',
    ok: true,
    detail: `${path.length} hashes from leaf ${bundle.index} lead to the signed root of ${size} records`,
  });
  return { ok: true, steps };
}
