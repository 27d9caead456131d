// C2SP signed notes (c2sp.org/signed-note) with Ed25519, and the checkpoint body they carry
// (c2sp.org/tlog-checkpoint). Verifier keys use the usual text form
// `<name>+<key id hex>+<base64(0x01 || public key)>`.

import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

const ED25519 = 0x01;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteKey {
  name: string;
  /** 4-byte key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]. */
  id: Buffer;
  publicKey: Buffer;
}

export function keyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name)
    .update(Buffer.from([0x0a, ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

export function validKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

export function noteKey(name: string, publicKey: Buffer): NoteKey {
  if (!validKeyName(name)) throw new Error(`invalid key name "${name}": no spaces or "+"`);
  return { name, id: keyId(name, publicKey), publicKey };
}

export function formatVerifierKey(k: NoteKey): string {
  return `${k.name}+${k.id.toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), k.publicKey]).toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteKey {
  // Names hold no "+", ids are hex; the base64 key after the second "+" may contain "+".
  const t = text.trim();
  const a = t.indexOf('+');
  const b = a < 0 ? -1 : t.indexOf('+', a + 1);
  if (a <= 0 || b < 0) throw new Error('verifier key must be <name>+<id>+<base64 key>');
  const [name, idHex, b64] = [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== 33 || raw[0] !== ED25519)
    throw new Error('verifier key is not an Ed25519 key');
  const key = noteKey(name, raw.subarray(1));
  if (key.id.toString('hex') !== idHex.toLowerCase()) {
    throw new Error('verifier key id does not match its name and key');
  }
  return key;
}

function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
}

/** Signs note text (which must end in a newline) and returns the whole signed note. */
export function signNote(text: string, key: NoteKey, privateKey: KeyObject): string {
  if (!text.endsWith('\n')) throw new Error('note text must end with a newline');
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n— ${key.name} ${Buffer.concat([key.id, sig]).toString('base64')}\n`;
}

export type NoteCheck = { ok: true; text: string } | { ok: false; reason: string };

/** Opens a signed note with one trusted key: the text if that key's signature verifies. */
export function openNote(note: string, key: NoteKey): NoteCheck {
  const sep = note.lastIndexOf('\n\n');
  if (sep < 0) return { ok: false, reason: 'malformed note: no blank line before the signatures' };
  const text = note.slice(0, sep + 1);
  const lines = note.slice(sep + 2).split('\n');
  if (lines.at(-1) === '') lines.pop();
  let signedByKey = false;
  for (const line of lines) {
    const m = /^— (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m) return { ok: false, reason: 'malformed signature line' };
    const blob = Buffer.from(m[2]!, 'base64');
    // Signatures from other keys (witnesses, say) are ignored, as the spec requires.
    if (m[1] !== key.name || blob.length < 4 || !blob.subarray(0, 4).equals(key.id)) continue;
    if (
      !verify(null, Buffer.from(text, 'utf8'), publicKeyObject(key.publicKey), blob.subarray(4))
    ) {
      return { ok: false, reason: `signature by ${key.name} does not verify` };
    }
    signedByKey = true;
  }
  return signedByKey
    ? { ok: true, text }
    : { ok: false, reason: `not signed by ${key.name}+${key.id.toString('hex')}` };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export function checkpointText(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const [origin, size, root] = text.split('\n');
  if (!origin || !size || !/^\d+$/.test(size) || !root)
    throw new Error('malformed checkpoint body');
  const hash = Buffer.from(root, 'base64');
  if (hash.length !== 32) throw new Error('checkpoint root hash is not 32 bytes');
  return { origin, size: Number(size), root: hash };
}

/** Verifies a signed checkpoint against the trusted key; the origin must be the key's log. */
export function openCheckpoint(
  note: string,
  key: NoteKey,
  origin?: string,
): { ok: true; checkpoint: Checkpoint } | { ok: false; reason: string } {
  const opened = openNote(note, key);
  if (!opened.ok) return opened;
  let c: Checkpoint;
  try {
    c = parseCheckpoint(opened.text);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (origin !== undefined && c.origin !== origin)
    return { ok: false, reason: `checkpoint is for log "${c.origin}", not "${origin}"` };
  return { ok: true, checkpoint: c };
}

/**
 * Splits text holding signed notes one after another, each followed by a blank line (the form
 * of a witness file), into the notes. Throws on anything else, naming the line.
 */
export function splitNotes(text: string): string[] {
  const lines = text.split('\n');
  const notes: string[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i] === '') {
      i++;
      continue;
    }
    const start = i;
    while (i < lines.length && lines[i] !== '') i++;
    const body = lines.slice(start, i);
    i++; // the blank line before the signatures
    const sigs: string[] = [];
    while (i < lines.length && lines[i]!.startsWith('— ')) sigs.push(lines[i++]!);
    if (sigs.length === 0 || (i < lines.length && lines[i] !== ''))
      throw new Error(
        `malformed note at line ${start + 1}: expected text, a blank line, signatures`,
      );
    notes.push(`${body.join('\n')}\n\n${sigs.join('\n')}\n`);
  }
  return notes;
}
