// Cedar values as the compiled evaluator sees them. Primitives are native JS (boolean, string,
// Long as number while it is a safe integer, as bigint beyond), entity uids, sets and records
// are small classes, and records read from request or entity JSON stay the caller's objects:
// a field is converted only when a policy reads it.

/** An evaluation error (Cedar skips the policy and reports it). */
export class EvalError extends Error {}

/** Something the compiled evaluator does not model exactly: the caller asks cedar-wasm instead. */
export class Unsupported extends Error {}

export class EntityUid {
  constructor(
    readonly type: string,
    readonly id: string,
  ) {}
}

export class CedarSet {
  constructor(readonly items: readonly Value[]) {}
}

/** A record. `raw` ones hold Cedar JSON (from a request or an entity) converted on read. */
export class CedarRecord {
  constructor(
    readonly fields: Readonly<Record<string, unknown>>,
    readonly raw: boolean,
  ) {}

  has(k: string): boolean {
    return Object.hasOwn(this.fields, k) && this.fields[k] !== undefined;
  }

  get(k: string): Value | undefined {
    if (!this.has(k)) return undefined;
    const v = this.fields[k];
    return this.raw ? fromJson(v) : (v as Value);
  }

  keys(): string[] {
    return Object.keys(this.fields).filter((k) => this.fields[k] !== undefined);
  }
}

export class Decimal {
  /** Scaled by 10^4, within i64. */
  constructor(readonly scaled: bigint) {}
}

export class IpNet {
  constructor(
    readonly v6: boolean,
    readonly addr: bigint,
    readonly prefix: number,
  ) {}
}

export class Datetime {
  /** Milliseconds since the epoch. */
  constructor(readonly ms: number | bigint) {}
}

export class Duration {
  constructor(readonly ms: number | bigint) {}
}

export type Long = number | bigint;
export type ExtValue = Decimal | IpNet | Datetime | Duration;
export type Value = boolean | string | Long | EntityUid | CedarSet | CedarRecord | ExtValue;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** Canonical Long: a number when it is a safe integer, so equal Longs are always `===`. */
export function long(v: bigint, what: string): Long {
  if (v < I64_MIN || v > I64_MAX) throw new EvalError(`integer overflow in ${what}`);
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

export const isLong = (v: Value): v is Long => typeof v === 'number' || typeof v === 'bigint';

export function typeName(v: Value): string {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (isLong(v)) return 'long';
  if (v instanceof EntityUid) return 'entity';
  if (v instanceof CedarSet) return 'set';
  if (v instanceof CedarRecord) return 'record';
  if (v instanceof Decimal) return 'decimal';
  if (v instanceof IpNet) return 'ipaddr';
  if (v instanceof Datetime) return 'datetime';
  return 'duration';
}

export function typeError(expected: string, got: Value): EvalError {
  return new EvalError(`type error: expected ${expected}, got ${typeName(got)}`);
}

export function equals(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (a instanceof EntityUid) return b instanceof EntityUid && a.type === b.type && a.id === b.id;
  if (a instanceof CedarSet) return b instanceof CedarSet && setEquals(a, b);
  if (a instanceof CedarRecord) {
    if (!(b instanceof CedarRecord)) return false;
    const ka = a.keys();
    if (ka.length !== b.keys().length) return false;
    return ka.every((k) => b.has(k) && equals(a.get(k)!, b.get(k)!));
  }
  if (a instanceof Decimal) return b instanceof Decimal && a.scaled === b.scaled;
  if (a instanceof IpNet)
    return b instanceof IpNet && a.v6 === b.v6 && a.addr === b.addr && a.prefix === b.prefix;
  if (a instanceof Datetime) return b instanceof Datetime && a.ms === b.ms;
  if (a instanceof Duration) return b instanceof Duration && a.ms === b.ms;
  return false;
}

export const setHas = (s: CedarSet, v: Value): boolean => s.items.some((x) => equals(x, v));

/** Sets are sets: order and duplicates do not matter. */
export const setEquals = (a: CedarSet, b: CedarSet): boolean =>
  a.items.every((x) => setHas(b, x)) && b.items.every((x) => setHas(a, x));

type ExtParser = (fn: string, arg: string) => ExtValue;
let parseExt: ExtParser = () => {
  throw new Unsupported('extension values are not registered');
};
/** extensions.ts registers its parser here (values.ts must not import it: a cycle). */
export function registerExtParser(p: ExtParser): void {
  parseExt = p;
}

/**
 * Cedar JSON (as in a request context or entity attrs) to a value. Input was checked by
 * `checkJson` first, so the shapes here are known good.
 */
export function fromJson(v: unknown): Value {
  switch (typeof v) {
    case 'boolean':
    case 'string':
    case 'number':
      return v;
    case 'object': {
      if (Array.isArray(v)) return new CedarSet(v.map(fromJson));
      const o = v as Record<string, unknown>;
      if (o.__entity !== undefined) {
        const e = o.__entity as { type: string; id: string };
        return new EntityUid(e.type, e.id);
      }
      if (o.__extn !== undefined) {
        const x = o.__extn as { fn: string; arg: string };
        return parseExt(x.fn, x.arg);
      }
      return new CedarRecord(o, true);
    }
    default:
      throw new Unsupported(`a ${typeof v} in Cedar JSON`);
  }
}

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*(::[_a-zA-Z][_a-zA-Z0-9]*)*$/;
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has']);

const PLAIN_NAMES = new Set<string>();

/** An entity type name cedar-wasm surely accepts; anything else is its call to make. */
export function plainTypeName(t: unknown): boolean {
  if (typeof t !== 'string') return false;
  if (PLAIN_NAMES.has(t)) return true;
  const ok = NAME.test(t) && !t.split('::').some((p) => RESERVED.has(p));
  // Type names are few; remember the good ones (bounded, in case a caller invents many).
  if (ok && PLAIN_NAMES.size < 10_000) PLAIN_NAMES.add(t);
  return ok;
}

const isPlainObject = (o: object): boolean => {
  const p = Object.getPrototypeOf(o) as unknown;
  return p === Object.prototype || p === null;
};

/**
 * Whether a JSON value is one the compiled evaluator reads exactly as cedar-wasm would.
 * Cedar rejects a whole request over a bad value anywhere in it (a float, a null, a malformed
 * escape), so this walks all of it; anything doubtful goes to cedar-wasm.
 */
export function checkJson(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  switch (typeof v) {
    case 'boolean':
    case 'string':
      return true;
    case 'number':
      return Number.isSafeInteger(v);
    case 'object': {
      if (v === null) return false;
      if (Array.isArray(v)) {
        for (const x of v) if (x === undefined || !checkJson(x, depth + 1)) return false;
        return true;
      }
      if (!isPlainObject(v)) return false;
      const o = v as Record<string, unknown>;
      if ('__entity' in o || '__extn' in o || '__expr' in o) {
        const keys = Object.keys(o).filter((k) => o[k] !== undefined);
        if (keys.length !== 1) return false;
        if (o.__entity !== undefined) return checkUid(o.__entity);
        if (o.__extn !== undefined) return checkExtn(o.__extn);
        return false;
      }
      for (const k in o) if (o[k] !== undefined && !checkJson(o[k], depth + 1)) return false;
      return true;
    }
    case 'undefined':
      return true; // an absent field
    default:
      return false;
  }
}

function checkUid(u: unknown): boolean {
  if (!u || typeof u !== 'object' || !isPlainObject(u)) return false;
  const o = u as Record<string, unknown>;
  return Object.keys(o).length === 2 && plainTypeName(o.type) && typeof o.id === 'string';
}

function checkExtn(x: unknown): boolean {
  if (!x || typeof x !== 'object' || !isPlainObject(x)) return false;
  const o = x as Record<string, unknown>;
  if (Object.keys(o).length !== 2 || typeof o.fn !== 'string' || typeof o.arg !== 'string')
    return false;
  try {
    parseExt(o.fn, o.arg);
    return true;
  } catch {
    // Cedar fails the request over a bad extension value; let it say so.
    return false;
  }
}
