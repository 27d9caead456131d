// Cedar's extension types (ipaddr, decimal, datetime, duration) and their functions, by the
// semantics of the Cedar spec (cedar-spec's Lean model), checked against cedar-wasm 4.13 by
// the differential test: what a constructor does not accept is an evaluation error.

import {
  Datetime,
  Decimal,
  Duration,
  EvalError,
  IpNet,
  Unsupported,
  isLong,
  long,
  registerExtParser,
  typeError,
  type ExtValue,
  type Long,
  type Value,
} from './values.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const inI64 = (v: bigint) => v >= I64_MIN && v <= I64_MAX;

// ---- ipaddr ----

function v4Num(s: string): number | undefined {
  if (s.length === 0 || s.length > 3 || !/^[0-9]+$/.test(s)) return undefined;
  if (s.startsWith('0') && s !== '0') return undefined;
  const n = Number(s);
  return n <= 255 ? n : undefined;
}

function prefixNum(s: string, digits: number, size: number): number | undefined {
  if (s.length === 0 || s.length > digits || !/^[0-9]+$/.test(s)) return undefined;
  if (s.startsWith('0') && s !== '0') return undefined;
  const n = Number(s);
  return n <= size ? n : undefined;
}

function parseV4(s: string): IpNet | undefined {
  const [addr, ...rest] = s.split('/');
  if (rest.length > 1) return undefined;
  const prefix = rest.length === 0 ? 32 : prefixNum(rest[0]!, 2, 32);
  if (prefix === undefined) return undefined;
  const segs = addr!.split('.');
  if (segs.length !== 4) return undefined;
  let v = 0n;
  for (const seg of segs) {
    const n = v4Num(seg);
    if (n === undefined) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return new IpNet(false, v, prefix);
}

function v6Groups(s: string): number[] | undefined {
  if (s === '') return [];
  const out: number[] = [];
  for (const g of s.split(':')) {
    if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

function parseV6(s: string): IpNet | undefined {
  const [addr, ...rest] = s.split('/');
  if (rest.length > 1) return undefined;
  const prefix = rest.length === 0 ? 128 : prefixNum(rest[0]!, 3, 128);
  if (prefix === undefined) return undefined;
  const halves = addr!.split('::');
  let groups: number[] | undefined;
  if (halves.length === 1) groups = v6Groups(halves[0]!);
  else if (halves.length === 2) {
    const a = v6Groups(halves[0]!);
    const b = v6Groups(halves[1]!);
    if (!a || !b || a.length + b.length >= 8) return undefined;
    groups = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  }
  if (!groups || groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return new IpNet(true, v, prefix);
}

export function parseIp(s: string): IpNet {
  // Cedar refuses IPv4 embedded in IPv6 (::ffff:1.2.3.4), zones, whitespace.
  const ip = s.includes(':') && s.includes('.') ? undefined : (parseV4(s) ?? parseV6(s));
  if (!ip) throw new EvalError(`invalid IP address: ${s}`);
  return ip;
}

function range(ip: IpNet): [bigint, bigint] {
  const width = BigInt((ip.v6 ? 128 : 32) - ip.prefix);
  const lo = (ip.addr >> width) << width;
  return [lo, lo + (1n << width) - 1n];
}

export function inRange(a: IpNet, b: IpNet): boolean {
  if (a.v6 !== b.v6) return false;
  const [alo, ahi] = range(a);
  const [blo, bhi] = range(b);
  return bhi >= ahi && alo >= blo;
}

const LOOPBACK_V4 = new IpNet(false, 127n << 24n, 8);
const LOOPBACK_V6 = new IpNet(true, 1n, 128);
const MULTICAST_V4 = new IpNet(false, 224n << 24n, 4);
const MULTICAST_V6 = new IpNet(true, 0xff00n << 112n, 8);

// ---- decimal ----

export function parseDecimal(s: string): Decimal {
  const m = /^(-?)([0-9]+)\.([0-9]{1,4})$/.exec(s);
  if (!m) throw new EvalError(`invalid decimal: ${s}`);
  const left = BigInt(m[2]!);
  if (!inI64(m[1] ? -left : left)) throw new EvalError(`decimal overflow: ${s}`);
  const scaled = (m[1] ? -1n : 1n) * (left * 10000n + BigInt(m[3]!.padEnd(4, '0')));
  if (!inI64(scaled)) throw new EvalError(`decimal overflow: ${s}`);
  return new Decimal(scaled);
}

// ---- datetime / duration ----

const MS_DAY = 86_400_000;
const daysIn = (y: number, m: number) =>
  m === 2
    ? (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
      ? 29
      : 28
    : [4, 6, 9, 11].includes(m)
      ? 30
      : 31;

export function parseDatetime(s: string): Datetime {
  const m =
    /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{3}))?(Z|[+-][0-9]{4}))?$/.exec(
      s,
    );
  if (!m) throw new EvalError(`invalid datetime: ${s}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, sec, ms] = [
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    Number(m[7] ?? 0),
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59)
    throw new EvalError(`invalid datetime: ${s}`);
  let offsetMs = 0;
  const z = m[8];
  if (z && z !== 'Z') {
    const oh = Number(z.slice(1, 3));
    const om = Number(z.slice(3, 5));
    if (oh > 23 || om > 59) throw new EvalError(`invalid datetime offset: ${s}`);
    offsetMs = (z[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60) * 1000;
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, sec, ms);
  return new Datetime(date.getTime() - offsetMs);
}

const UNIT_MS: Record<string, bigint> = {
  d: 86_400_000n,
  h: 3_600_000n,
  m: 60_000n,
  s: 1000n,
  ms: 1n,
};

export function parseDuration(s: string): Duration {
  const m = /^(-?)(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$/.exec(s);
  if (!m || s === '' || s === '-') throw new EvalError(`invalid duration: ${s}`);
  let total = 0n;
  ['d', 'h', 'm', 's', 'ms'].forEach((u, i) => {
    const q = m[i + 2];
    if (q === undefined) return;
    const n = BigInt(q);
    if (!inI64(n)) throw new EvalError(`duration overflow: ${s}`);
    total += n * UNIT_MS[u]!;
  });
  if (!inI64(total)) throw new EvalError(`duration overflow: ${s}`);
  return new Duration(long(m[1] ? -total : total, 'duration'));
}

// ---- the function table ----

const big = (v: Long): bigint => (typeof v === 'bigint' ? v : BigInt(v));

function arg<T>(v: Value, ctor: abstract new (...a: never[]) => T, name: string): T {
  if (v instanceof ctor) return v;
  throw typeError(name, v);
}

const str = (v: Value): string => {
  if (typeof v === 'string') return v;
  throw typeError('string', v);
};

const ip = (v: Value) => arg(v, IpNet, 'ipaddr');
const dec = (v: Value) => arg(v, Decimal, 'decimal');
const dt = (v: Value) => arg(v, Datetime, 'datetime');
const dur = (v: Value) => arg(v, Duration, 'duration');

/** Truncating division, as Rust's i64 `/`. */
const div = (a: Long, b: bigint) => long(big(a) / b, 'duration conversion');

function floorDay(ms: Long): Long {
  const v = big(ms);
  const day = BigInt(MS_DAY);
  let q = v / day;
  if (v < 0n && v % day !== 0n) q -= 1n;
  return long(q * day, 'toDate');
}

export interface ExtFn {
  arity: number;
  call: (args: Value[]) => Value;
}

export const EXTENSION_FUNCTIONS: Record<string, ExtFn> = {
  ip: { arity: 1, call: ([s]) => parseIp(str(s!)) },
  isIpv4: { arity: 1, call: ([a]) => !ip(a!).v6 },
  isIpv6: { arity: 1, call: ([a]) => ip(a!).v6 },
  isLoopback: {
    arity: 1,
    call: ([a]) => {
      const x = ip(a!);
      return inRange(x, x.v6 ? LOOPBACK_V6 : LOOPBACK_V4);
    },
  },
  isMulticast: {
    arity: 1,
    call: ([a]) => {
      const x = ip(a!);
      return inRange(x, x.v6 ? MULTICAST_V6 : MULTICAST_V4);
    },
  },
  isInRange: { arity: 2, call: ([a, b]) => inRange(ip(a!), ip(b!)) },
  decimal: { arity: 1, call: ([s]) => parseDecimal(str(s!)) },
  lessThan: { arity: 2, call: ([a, b]) => dec(a!).scaled < dec(b!).scaled },
  lessThanOrEqual: { arity: 2, call: ([a, b]) => dec(a!).scaled <= dec(b!).scaled },
  greaterThan: { arity: 2, call: ([a, b]) => dec(a!).scaled > dec(b!).scaled },
  greaterThanOrEqual: { arity: 2, call: ([a, b]) => dec(a!).scaled >= dec(b!).scaled },
  datetime: { arity: 1, call: ([s]) => parseDatetime(str(s!)) },
  duration: { arity: 1, call: ([s]) => parseDuration(str(s!)) },
  offset: {
    arity: 2,
    call: ([a, b]) => new Datetime(long(big(dt(a!).ms) + big(dur(b!).ms), 'offset')),
  },
  durationSince: {
    arity: 2,
    call: ([a, b]) => new Duration(long(big(dt(a!).ms) - big(dt(b!).ms), 'durationSince')),
  },
  toDate: { arity: 1, call: ([a]) => new Datetime(floorDay(dt(a!).ms)) },
  toTime: {
    arity: 1,
    call: ([a]) => {
      const ms = dt(a!).ms;
      return new Duration(long(big(ms) - big(floorDay(ms)), 'toTime'));
    },
  },
  toMilliseconds: { arity: 1, call: ([a]) => dur(a!).ms },
  toSeconds: { arity: 1, call: ([a]) => div(dur(a!).ms, 1000n) },
  toMinutes: { arity: 1, call: ([a]) => div(dur(a!).ms, 60_000n) },
  toHours: { arity: 1, call: ([a]) => div(dur(a!).ms, 3_600_000n) },
  toDays: { arity: 1, call: ([a]) => div(dur(a!).ms, 86_400_000n) },
};

/** Ordering for `<` and friends: Longs, datetimes, durations (each only with its own kind). */
export function orderKey(a: Value, b: Value): [Long, Long] {
  if (isLong(a) && isLong(b)) return [a, b];
  if (a instanceof Datetime && b instanceof Datetime) return [a.ms, b.ms];
  if (a instanceof Duration && b instanceof Duration) return [a.ms, b.ms];
  throw typeError('long, datetime or duration of one kind', isLong(a) ? b : a);
}

const EXT_CACHE = new Map<string, ExtValue>();

/** `__extn` values in JSON: the constructor applied to the string. Parses are memoized. */
function parseExtJson(fn: string, argText: string): ExtValue {
  const key = `${fn}\0${argText}`;
  const hit = EXT_CACHE.get(key);
  if (hit) return hit;
  let v: ExtValue;
  if (fn === 'ip') v = parseIp(argText);
  else if (fn === 'decimal') v = parseDecimal(argText);
  else if (fn === 'datetime') v = parseDatetime(argText);
  else if (fn === 'duration') v = parseDuration(argText);
  else throw new Unsupported(`extension function ${fn}`);
  if (EXT_CACHE.size > 10_000) EXT_CACHE.clear();
  EXT_CACHE.set(key, v);
  return v;
}

registerExtParser(parseExtJson);
