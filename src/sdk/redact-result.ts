// Redaction of what a guarded function returns: every string in the result (a string, or any
// depth of plain objects and arrays; keys included) is inspected with Cordon's detectors and the
// decision's `redact` obligations are applied (inspect/obligations.ts), as the MCP gateway does
// to tool results. A value whose text the SDK cannot see (a Map, a class instance, a Buffer, a
// stream) cannot be redacted, so it is refused rather than handed over unredacted.

import type { Obligation } from '../core/types.js';
import type { Inspector } from '../inspect/inspector.js';

let inspector: Promise<Inspector> | undefined;
/** The default detectors, loaded on first use (their rule sets are large). */
function detectors(): Promise<Inspector> {
  inspector ??= import('../inspect/inspector.js').then((m) => new m.Inspector());
  return inspector;
}

/** The most values one result may hold (a bound on the walk, as for tool arguments). */
const MAX_VALUES = 100_000;

/** `value` with the obligations applied to every string in it; the caller's copy is untouched. */
export async function redactResult(
  value: unknown,
  obligations: Obligation[],
  o: { salt?: string } = {},
): Promise<unknown> {
  const [{ applyRedactions }, found] = await Promise.all([
    import('../inspect/obligations.js'),
    detectors(),
  ]);
  return mapStrings(value, async (s) => {
    if (s.length === 0) return s;
    const { findings } = await found.inspect(s);
    return applyRedactions(s, obligations, findings, o.salt);
  });
}

/**
 * Every string in `value` (keys included), in order: what a decision about the result reads.
 * Throws where `redactResult` would: a value whose text the SDK cannot see.
 */
export async function resultTexts(value: unknown): Promise<string[]> {
  const texts: string[] = [];
  await mapStrings(value, (s) => {
    if (s.length > 0) texts.push(s);
    return s;
  });
  return texts;
}

/** A copy of `value` with each string (key or value) replaced by what `text` makes of it. */
async function mapStrings(
  value: unknown,
  text: (s: string) => string | Promise<string>,
): Promise<unknown> {
  let seen = 0;
  const walk = async (v: unknown, depth: number): Promise<unknown> => {
    if (++seen > MAX_VALUES) throw new Error(`it holds more than ${MAX_VALUES} values`);
    if (depth > 128) throw new Error('it is nested more than 128 levels deep');
    if (typeof v === 'string') return text(v);
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'function' || typeof v === 'symbol')
        throw new Error(`it holds a ${typeof v}, whose content Cordon cannot inspect`);
      return v;
    }
    if (v instanceof Date) return new Date(v.getTime());
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const item of v) out.push(await walk(item, depth + 1));
      return out;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new Error(
        `it holds a ${(v as object).constructor?.name ?? 'non-plain object'}, whose content Cordon cannot inspect`,
      );
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) out[await text(k)] = await walk(item, depth + 1);
    return out;
  };
  return walk(value, 0);
}
