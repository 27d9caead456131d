// RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: object keys sorted by UTF-16
// code units, numbers and strings as ECMAScript's JSON.stringify writes them, no whitespace.
//
// The `canonicalize` package (the scheme's reference implementation) builds a template string,
// an array and a Set per object; every decision writes one record, and that garbage was a third
// of what a gateway call allocated, so young-generation GC pauses hit more calls. This writes
// one string in one pass, with the same output and the same refusals (NaN, infinities, lone
// surrogates, cycles); canonical-json.test.ts checks the two against each other. The approval
// binding uses it too.

export class CanonicalJsonError extends Error {}

/** In Unicode mode a surrogate pair is one code point: this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Sorts keys by UTF-16 code units (what `<` compares, and Array.prototype.sort's default) in
 * place. Objects in records are small: an insertion sort allocates nothing, while sort() copies
 * the array into a work array every time.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 32) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > k; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = k;
  }
}

export function canonicalJson(value: unknown): string | undefined {
  const open: object[] = []; // objects being written, to refuse cycles

  function write(v: unknown): string | undefined {
    switch (typeof v) {
      case 'string':
        if (LONE_SURROGATE.test(v)) throw new CanonicalJsonError('Lone surrogate is not allowed');
        return JSON.stringify(v);
      case 'number':
        if (Number.isNaN(v)) throw new CanonicalJsonError('NaN is not allowed');
        if (!Number.isFinite(v)) throw new CanonicalJsonError('Infinity is not allowed');
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'object':
        break;
      case 'bigint':
        throw new CanonicalJsonError('BigInt is not allowed');
      default:
        return undefined; // undefined, functions, symbols: no JSON text
    }
    if (v === null) return 'null';
    if (open.includes(v)) throw new CanonicalJsonError('Circular reference detected');
    open.push(v);
    let out: string | undefined;
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      out = write((v as { toJSON: () => unknown }).toJSON()); // undefined: left out, as JSON.stringify does
    } else if (Array.isArray(v)) {
      out = '[';
      for (let i = 0; i < v.length; i++) {
        const item = v[i] as unknown;
        out += (i > 0 ? ',' : '') + (write(item) ?? 'null');
      }
      out += ']';
    } else {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      sortKeys(keys);
      out = '{';
      let first = true;
      for (const k of keys) {
        const text = write(o[k]);
        if (text === undefined) continue;
        out += `${first ? '' : ','}${write(k)!}:${text}`;
        first = false;
      }
      out += '}';
    }
    open.pop();
    return out;
  }

  return write(value);
}
