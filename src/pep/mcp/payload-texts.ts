// Every text an MCP server's answer carries to the agent, and how to put a redacted version
// back. One walk over the whole payload, whatever its type: a tool result (every content
// block: text, image, audio, resource_link, embedded resource; `_meta` anywhere; structured
// content, keys and values), a prompt (description, messages), a resource's contents, a
// notification's params. Nothing is skipped by block type, so a block type added to MCP later
// is read too. Numbers are read as text (a card number stored as a number). Base64 fields
// (`data` of image and audio blocks, `blob` of resource contents) are decoded: text-like bytes
// (valid UTF-8, no control characters but whitespace) are read as text and re-encoded when
// redacted; other bytes (real images, audio) are read only for the printable runs they carry
// (metadata), and a block with a finding there is withheld whole, since no redaction of it
// can be mapped back. Text drawn in an image is not read (no OCR).

export interface PayloadText {
  text: string;
  /** Puts a redacted text back; for bytes that cannot take one, withholds the block. */
  set(redacted: string): void;
  /** Bytes read for their printable runs: any finding withholds the block. */
  binary?: boolean;
  /**
   * false for keys and protocol words (`type`, `mimeType`, `role`): read, but not joined with
   * their neighbours, so the text of two adjacent blocks is read as one.
   */
  joins?: boolean;
}

/** Values that are the protocol's own words, never the server's text. */
const PROTOCOL_WORDS = new Set(['type', 'mimeType', 'role', 'level']);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f]/;
/** Printable ASCII runs this long in binary data are read (like `strings`). */
const MIN_RUN = 12;

export const WITHHELD_BLOCK = 'Cordon withheld this content: it carries data the policy redacts';

function decodeText(bytes: Buffer): string | undefined {
  try {
    const s = UTF8.decode(bytes);
    return CONTROL.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

function printableRuns(bytes: Buffer): string {
  const runs: string[] = [];
  let start = -1;
  for (let i = 0; i <= bytes.length; i++) {
    const b = i < bytes.length ? bytes[i]! : 0;
    const printable = b >= 0x20 && b < 0x7f;
    if (printable && start < 0) start = i;
    else if (!printable && start >= 0) {
      if (i - start >= MIN_RUN) runs.push(bytes.toString('latin1', start, i));
      start = -1;
    }
  }
  return runs.join('\n');
}

/**
 * The texts of `payload`, in the order the agent reads them. `payload` must be the caller's own
 * copy: setters change it in place.
 */
export function payloadTexts(payload: object): PayloadText[] {
  const out: PayloadText[] = [];

  const withhold = (block: Record<string, unknown>) => {
    for (const k of Object.keys(block)) delete block[k];
    // A content block becomes a text block; resource contents keep a shape MCP accepts.
    Object.assign(block, { type: 'text', text: WITHHELD_BLOCK });
  };

  const base64 = (holder: Record<string, unknown>, key: string, value: string) => {
    if (!BASE64.test(value)) return false;
    const bytes = Buffer.from(value, 'base64');
    const text = decodeText(bytes);
    if (text !== undefined) {
      out.push({
        text,
        set: (t) => (holder[key] = Buffer.from(t, 'utf8').toString('base64')),
      });
      return true;
    }
    const runs = printableRuns(bytes);
    if (runs)
      out.push({
        text: runs,
        binary: true,
        set: () => {
          if ('uri' in holder && 'blob' in holder) {
            delete holder.blob;
            holder.text = WITHHELD_BLOCK;
            holder.mimeType = 'text/plain';
          } else withhold(holder);
        },
      });
    return true;
  };

  const walk = (v: unknown, put: (x: unknown) => void, joins = true): void => {
    if (typeof v === 'string') out.push({ text: v, set: put, ...(joins ? {} : { joins }) });
    else if (typeof v === 'number') out.push({ text: String(v), set: put });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, (y) => (v[i] = y)));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const media =
        (o.type === 'image' || o.type === 'audio') && typeof o.data === 'string' ? 'data' : 'blob';
      for (const k of Object.keys(o)) {
        // The key's current name: a redacted key is renamed before its value is set.
        const ref = { key: k };
        out.push({ text: k, joins: false, set: (t) => (ref.key = renameKey(o, ref.key, t)) });
        const x = o[k];
        if (k === media && typeof x === 'string' && base64(o, k, x)) continue;
        walk(x, (y) => (o[ref.key] = y), !PROTOCOL_WORDS.has(k));
      }
    }
  };
  walk(payload, () => {});
  return out;
}

/** Renames a key in place, keeping the order; a name taken already gets a suffix. */
function renameKey(o: Record<string, unknown>, from: string, to: string): string {
  if (from === to || !Object.hasOwn(o, from)) return from;
  let name = to;
  for (let n = 2; Object.hasOwn(o, name); n++) name = `${to}#${n}`;
  const entries = Object.entries(o);
  for (const [k] of entries) delete o[k];
  for (const [k, x] of entries) o[k === from ? name : k] = x;
  return name;
}
