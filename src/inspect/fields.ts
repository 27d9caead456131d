// Field-level redaction of structured data. A key is a classified field when, compared without
// case or separators (Email_Address, emailAddress, email-address and "email address" are all
// emailaddress), it names a `Field` entity or one of its `aliases`; every such field is decided
// (readData, by the caller's policy) once, and a field the principal may not read has its
// value replaced with "[REDACTED]" wherever it occurs. In text, JSON is found wherever it is:
// the whole text, each line of JSON Lines, JSON after prose. Outside JSON, `name: value` and
// `name = value` have the rest of the line redacted; a refused field named any other way in
// identifier form (snake_case, kebab-case, camelCase: a CSV header, a table) is reported as
// unlocated, for the caller to withhold, since which value is the field's cannot be told.

export const FIELD_REDACTED = '[REDACTED]';

/** true when the principal may read the field (a policy decision). */
export type FieldDecider = (field: string) => Promise<boolean>;

/** The Field entity a key names, if any. */
export type FieldMatcher = (key: string) => string | undefined;

export interface FieldRedaction {
  value: unknown;
  /** The fields that were redacted (Field ids), in first-seen order. */
  redacted: string[];
}

/** A name without case, separators or formatting: what two spellings of a field share. */
export function fieldKey(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

/** Matches keys to Field entities by id and by their `aliases` attribute. */
export function fieldMatcher(
  fields: { id: string; aliases?: unknown }[] | ((add: (id: string, name: string) => void) => void),
): FieldMatcher {
  const byKey = new Map<string, string>();
  const add = (id: string, name: string) => {
    const k = fieldKey(name);
    if (k && !byKey.has(k)) byKey.set(k, id);
  };
  if (typeof fields === 'function') fields(add);
  else
    for (const f of fields) {
      add(f.id, f.id);
      if (Array.isArray(f.aliases))
        for (const a of f.aliases) if (typeof a === 'string') add(f.id, a);
    }
  return (key) => byKey.get(fieldKey(key));
}

function decider(mayRead: FieldDecider) {
  const decided = new Map<string, Promise<boolean>>();
  return (field: string) => {
    let d = decided.get(field);
    if (!d) decided.set(field, (d = mayRead(field)));
    return d;
  };
}

export async function redactFields(
  value: unknown,
  field: FieldMatcher,
  mayRead: FieldDecider,
): Promise<FieldRedaction> {
  const allowed = decider(mayRead);
  const redacted: string[] = [];
  const walk = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v)) {
      const id = field(k);
      if (id !== undefined && !(await allowed(id))) {
        out[k] = FIELD_REDACTED;
        if (!redacted.includes(id)) redacted.push(id);
      } else out[k] = await walk(inner);
    }
    return out;
  };
  return { value: await walk(value), redacted };
}

/** The end (exclusive) of the JSON object or array opening at `start`, if it closes. */
function closingAt(text: string, start: number): number | undefined {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c === '{' ? '}' : ']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return undefined;
      if (stack.length === 0) return i + 1;
    }
  }
  return undefined;
}

/** Every JSON object or array in a text: the whole text, JSON Lines, JSON after prose. */
export function jsonRegions(text: string): { start: number; end: number; value: object }[] {
  const out: { start: number; end: number; value: object }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '{' && c !== '[') continue;
    const end = closingAt(text, i);
    if (end === undefined) continue;
    try {
      const value: unknown = JSON.parse(text.slice(i, end));
      if (value !== null && typeof value === 'object') {
        out.push({ start: i, end, value });
        i = end - 1;
      }
    } catch {
      // not JSON from here: try the next bracket
    }
  }
  return out;
}

// The words before a `:` or `=` that may name a field (`"Employee Salary": …`, `salary=…`).
const LABEL = /((?:[\p{L}\p{N}_\-.]+[ \t]+){0,3}[\p{L}\p{N}_\-.]+)["']?[ \t]*$/u;
// A name in identifier form: snake_case, kebab-case, dotted, camelCase.
const IDENTIFIER =
  /[\p{L}][\p{L}\p{N}]*(?:[_\-.][\p{L}\p{N}]+)+|[\p{Ll}][\p{Ll}\p{N}]*(?:[\p{Lu}][\p{Ll}\p{N}]*)+/gu;

export interface TextFieldRedaction {
  /** The text with refused fields redacted; undefined when nothing changed. */
  text?: string;
  /** Refused fields the text names where their value cannot be told apart. */
  unlocated: string[];
}

/** Refused fields redacted in a text: in its JSON, and in `name: value` lines outside it. */
export async function redactFieldsInText(
  text: string,
  field: FieldMatcher,
  mayRead: FieldDecider,
): Promise<TextFieldRedaction> {
  const allowed = decider(mayRead);
  let out = '';
  let at = 0;
  let changed = false;
  const unlocated: string[] = [];
  const prose = async (s: string): Promise<string> => {
    const edits: { start: number; end: number }[] = [];
    const labels: [number, number][] = [];
    // `name: value`: the value runs to the end of the line.
    for (const sep of s.matchAll(/[:=]/g)) {
      const lineStart = s.lastIndexOf('\n', sep.index) + 1;
      if (edits.some((e) => sep.index >= e.start && sep.index < e.end)) continue;
      const words = LABEL.exec(s.slice(lineStart, sep.index).replace(/^.*["']/, ''));
      if (!words) continue;
      const parts = words[1]!.split(/[ \t]+/);
      for (let n = parts.length; n >= 1; n--) {
        const id = field(parts.slice(parts.length - n).join(' '));
        if (id === undefined) continue;
        labels.push([sep.index - words[0].length, sep.index]);
        if (!(await allowed(id))) {
          const eol = s.indexOf('\n', sep.index);
          const end = eol < 0 ? s.length : eol;
          const start = sep.index + 1 + (/^[ \t]*/.exec(s.slice(sep.index + 1))?.[0].length ?? 0);
          if (start < end) edits.push({ start, end });
        }
        break;
      }
    }
    for (const m of s.matchAll(IDENTIFIER)) {
      if (labels.some(([a, b]) => m.index >= a && m.index < b)) continue;
      if (edits.some((e) => m.index >= e.start && m.index < e.end)) continue;
      const id = field(m[0]);
      if (id !== undefined && !(await allowed(id)) && !unlocated.includes(id)) unlocated.push(id);
    }
    if (edits.length === 0) return s;
    changed = true;
    edits.sort((x, y) => x.start - y.start);
    let r = '';
    let p = 0;
    for (const e of edits) {
      r += s.slice(p, e.start) + FIELD_REDACTED;
      p = e.end;
    }
    return r + s.slice(p);
  };
  for (const region of jsonRegions(text)) {
    out += await prose(text.slice(at, region.start));
    const r = await redactFields(region.value, field, allowed);
    const raw = text.slice(region.start, region.end);
    if (r.redacted.length > 0) {
      changed = true;
      out += JSON.stringify(r.value, null, raw.includes('\n') ? 2 : 0);
    } else out += raw;
    at = region.end;
  }
  out += await prose(text.slice(at));
  return changed ? { text: out, unlocated } : { unlocated };
}
