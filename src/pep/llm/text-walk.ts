// Every string of an LLM body, found by walking it rather than by a list of known text fields:
// what a request sends the provider is inspected whole, and every string of an answer is
// redacted, unless its key says it is an identifier, an enum or opaque data. A field a provider
// adds tomorrow is text by default: inspected and redacted, never missed. Walks are iterative
// (no depth can overflow them) and mutate in place (bodies are the gateway's own parsed copies).

import type { TextRail } from './rail.js';

/** Identifiers and enums: read by no one as prose, and altering one would break the client. */
const STRUCTURAL = new Set([
  'id',
  'object',
  'type',
  'role',
  'model',
  'status',
  'name',
  'call_id',
  'item_id',
  'tool_call_id',
  'tool_use_id',
  'previous_response_id',
  'approval_request_id',
  'caller_id',
  'finish_reason',
  'stop_reason',
  'system_fingerprint',
  'service_tier',
  'created_by',
  'server_label',
  'server_name',
  'media_type',
  'file_id',
  'container_id',
  'format',
  'detail',
  'obfuscation',
]);

/**
 * Opaque data: signatures and encrypted reasoning a provider checks byte for byte, base64
 * media. Neither inspected nor altered (`data` is text only in a `{type: "text"}` source).
 */
const OPAQUE = new Set([
  'encrypted_content',
  'signature',
  'b64_json',
  'partial_image_b64',
  'result',
  'file_data',
  'embedding',
]);

/**
 * A typed item's or block's tool input (tool_use.input, computer_call.action, …): the model's
 * or the caller's own data, so every string in it is text, whatever its key.
 */
const FREE_DATA = new Set(['input', 'arguments', 'action', 'actions', 'operation']);

const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+(;[\w.+-]+=[\w.+-]+)*;base64,/;

type Container = Record<string, unknown> | unknown[];

/** Whether a string at `key` of `parent` is text (in `free` data, every string is). */
function isText(key: string, parent: Container, value: string, free: boolean): boolean {
  if (value === '') return false;
  if (key === 'data') return (parent as { type?: unknown }).type === 'text';
  if (DATA_URL.test(value)) return false;
  if (free) return true;
  return !STRUCTURAL.has(key) && !OPAQUE.has(key);
}

interface Frame {
  c: Container;
  free: boolean;
}

/**
 * Calls `onText` for each text string of `root` (depth first, in document order), with a setter that
 * replaces it; `onLogprobs` (when given) takes `logprobs` values instead of descending.
 */
function walk(
  root: unknown,
  onText: (s: string, key: string, set: (x: string) => void) => void,
  onLogprobs?: (v: unknown) => void,
  free = false,
): void {
  if (root === null || typeof root !== 'object') return;
  // No closure per container: this runs on every streamed event.
  const stack: Frame[] = [{ c: root as Container, free }];
  while (stack.length > 0) {
    const { c, free: inFree } = stack.pop()!;
    const from = stack.length;
    if (Array.isArray(c)) {
      // An array's items are at its own key: "content": [..strings..] is text.
      for (let i = 0; i < c.length; i++) {
        const v = c[i] as unknown;
        if (typeof v === 'string') {
          if (isText('', c, v, inFree)) onText(v, '', (x) => (c[i] = x));
        } else if (v !== null && typeof v === 'object') {
          stack.push({ c: v as Container, free: inFree });
        }
      }
    } else {
      const typed = typeof c.type === 'string';
      for (const key of Object.keys(c)) {
        const v = c[key];
        if (typeof v === 'string') {
          if (isText(key, c, v, inFree)) onText(v, key, (x) => (c[key] = x));
        } else if (v !== null && typeof v === 'object') {
          if (inFree) stack.push({ c: v as Container, free: true });
          else if (OPAQUE.has(key)) continue;
          else if (key === 'logprobs' && onLogprobs) onLogprobs(v);
          else stack.push({ c: v as Container, free: typed && FREE_DATA.has(key) });
        }
      }
    }
    // Children in document order: the first pushed is taken first.
    for (let i = from, j = stack.length - 1; i < j; i++, j--)
      [stack[i], stack[j]] = [stack[j]!, stack[i]!];
  }
}

/** All text of a request body, joined by newlines: what the input rail inspects. */
export function textOfTree(body: unknown): string {
  const parts: string[] = [];
  walk(body, (s) => parts.push(s));
  return parts.join('\n');
}

/** Logprob entries ({token, bytes, top_logprobs}) with the tokens a finding touches redacted. */
function redactLogprobList(list: unknown, rail: TextRail): boolean {
  if (!Array.isArray(list)) return false;
  const entries = list as { token?: unknown; bytes?: unknown; top_logprobs?: unknown }[];
  const tokens = entries.map((x) => (typeof x?.token === 'string' ? x.token : ''));
  const out = rail.redactTokens(tokens);
  if (out === tokens) return false;
  entries.forEach((x, i) => {
    if (!x || out[i] === tokens[i]) return;
    x.token = out[i];
    if (Array.isArray(x.bytes)) x.bytes = [...Buffer.from(out[i]!, 'utf8')];
    // The alternatives at a redacted position are pieces of the same secret.
    if (Array.isArray(x.top_logprobs)) x.top_logprobs = [];
  });
  return true;
}

/** A `logprobs` value: a list of entries (Responses), or {content, refusal} lists (Chat). */
export function redactLogprobs(v: unknown, rail: TextRail): boolean {
  if (Array.isArray(v)) return redactLogprobList(v, rail);
  if (!v || typeof v !== 'object') return false;
  let changed = false;
  for (const list of Object.values(v)) changed = redactLogprobList(list, rail) || changed;
  return changed;
}

/**
 * Redacts every text string of `value` in place; true when something changed. The strings are
 * detected together (TextRail.redactMany). Tool-call arguments (JSON text under `arguments`)
 * keep their JSON: the strings inside are redacted.
 */
export function redactTree(value: unknown, rail: TextRail, free = false): boolean {
  if (rail.idle) return false;
  const texts: string[] = [];
  const setters: ((s: string) => void)[] = [];
  const args: { text: string; set: (s: string) => void }[] = [];
  let changed = false;
  walk(
    value,
    (s, key, set) => {
      if (key === 'arguments') args.push({ text: s, set });
      else {
        texts.push(s);
        setters.push(set);
      }
    },
    (v) => {
      changed = redactLogprobs(v, rail) || changed;
    },
    free,
  );
  const out = rail.redactMany(texts);
  if (out !== texts)
    out.forEach((s, i) => {
      if (s !== texts[i]) {
        setters[i]!(s);
        changed = true;
      }
    });
  for (const a of args) {
    const s = redactArgs(a.text, rail);
    if (s !== a.text) {
      a.set(s);
      changed = true;
    }
  }
  return changed;
}

/** Tool-call arguments (JSON text) with each string inside redacted; still the same JSON. */
export function redactArgs(text: string, rail: TextRail): string {
  if (rail.idle || text === '') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return rail.redact(text); // not JSON: the agent cannot parse it either
  }
  if (typeof parsed === 'string') {
    const out = rail.redact(parsed);
    return out === parsed ? text : JSON.stringify(out);
  }
  const box = { v: parsed };
  return redactTree(box, rail, true) ? JSON.stringify(box.v) : text;
}
