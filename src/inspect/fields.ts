// Field-level redaction of structured data (a tool's JSON result): every field whose name is a
// classified Field is decided (readData, by the caller's policy) once per name, and a field
// the principal may not read has its value replaced with "[REDACTED]" wherever it occurs.

export const FIELD_REDACTED = '[REDACTED]';

/** true when the principal may read the field (a policy decision). */
export type FieldDecider = (field: string) => Promise<boolean>;

export interface FieldRedaction {
  value: unknown;
  /** The field names that were redacted, in first-seen order. */
  redacted: string[];
}

export async function redactFields(
  value: unknown,
  policed: (field: string) => boolean,
  mayRead: FieldDecider,
): Promise<FieldRedaction> {
  const decided = new Map<string, Promise<boolean>>();
  const redacted: string[] = [];
  const allowed = (field: string) => {
    let d = decided.get(field);
    if (!d) decided.set(field, (d = mayRead(field)));
    return d;
  };
  const walk = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v)) {
      if (policed(k) && !(await allowed(k))) {
        out[k] = FIELD_REDACTED;
        if (!redacted.includes(k)) redacted.push(k);
      } else out[k] = await walk(inner);
    }
    return out;
  };
  return { value: await walk(value), redacted };
}

/** A text that is a JSON object or array, parsed; undefined for anything else. */
export function parseJsonText(text: string): object | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}
