// Sets of resources as the kernel can hold them: a finite union of items (path prefixes,
// exact paths; destinations by host, CIDR and port), or the complement of one. Operations
// that the item algebra cannot represent exactly are approximated in the direction the
// caller asks for (`lower`: a subset of the true set, `upper`: a superset) and say so. Pure.

import { inRange } from '../core/compiled/extensions.js';
import { ipNet } from '../core/destination.js';

export { destinationHost, inetAton, ipNet } from '../core/destination.js';

export type Want = 'lower' | 'upper';

export interface Domain<I> {
  /** The intersection of two items, undefined when they are disjoint. */
  meet(a: I, b: I): I | undefined;
  /** a ⊇ b */
  covers(a: I, b: I): boolean;
  key(i: I): string;
}

export interface ItemSet<I> {
  co: boolean;
  items: I[];
}

export interface SetOps<I> {
  none: ItemSet<I>;
  all: ItemSet<I>;
  of(items: I[]): ItemSet<I>;
  union(a: ItemSet<I>, b: ItemSet<I>, want: Want): ItemSet<I>;
  meet(a: ItemSet<I>, b: ItemSet<I>, want: Want): ItemSet<I>;
  minus(a: ItemSet<I>, b: ItemSet<I>, want: Want): ItemSet<I>;
  not(a: ItemSet<I>): ItemSet<I>;
  /** Whether the last operations had to approximate. Reset by the caller. */
  inexact: boolean;
}

export function setOps<I>(d: Domain<I>): SetOps<I> {
  const dedupe = (items: I[]): I[] => {
    const out: I[] = [];
    for (const i of items) {
      if (out.some((o) => d.covers(o, i))) continue;
      for (let k = out.length - 1; k >= 0; k--) if (d.covers(i, out[k]!)) out.splice(k, 1);
      out.push(i);
    }
    return out.sort((a, b) => d.key(a).localeCompare(d.key(b)));
  };
  const ops: SetOps<I> = {
    inexact: false,
    none: { co: false, items: [] },
    all: { co: true, items: [] },
    of: (items) => ({ co: false, items: dedupe(items) }),
    not: (a) => ({ co: !a.co, items: a.items }),
    union(a, b, want) {
      if (!a.co && !b.co) return ops.of([...a.items, ...b.items]);
      if (a.co && b.co) return { co: true, items: posMeet(a.items, b.items) };
      const [pos, co] = a.co ? [b, a] : [a, b];
      // P ∪ ¬C = ¬(C − P); a lower bound of the union needs an upper bound of C − P.
      return {
        co: true,
        items: posMinus(co.items, pos.items, want === 'lower' ? 'upper' : 'lower'),
      };
    },
    meet(a, b, want) {
      if (!a.co && !b.co) return ops.of(posMeet(a.items, b.items));
      if (a.co && b.co) return { co: true, items: dedupe([...a.items, ...b.items]) };
      const [pos, co] = a.co ? [b, a] : [a, b];
      return ops.of(posMinus(pos.items, co.items, want));
    },
    minus(a, b, want) {
      return ops.meet(a, ops.not(b), want);
    },
  };
  const posMeet = (a: I[], b: I[]): I[] => {
    const out: I[] = [];
    for (const x of a)
      for (const y of b) {
        const m = d.meet(x, y);
        if (m !== undefined) out.push(m);
      }
    return dedupe(out);
  };
  const posMinus = (a: I[], b: I[], want: Want): I[] => {
    const out: I[] = [];
    for (const x of a) {
      if (b.some((y) => d.covers(y, x))) continue;
      if (b.every((y) => d.meet(x, y) === undefined)) {
        out.push(x);
        continue;
      }
      ops.inexact = true; // part of x is removed: items cannot carve holes
      if (want === 'upper') out.push(x);
    }
    return dedupe(out);
  };
  return ops;
}

// ---- paths ---------------------------------------------------------------------------------

/** `prefix`: every path starting with `s` (Cedar `like "s*"`); `exact`: the path `s`. */
export type PathItem = { kind: 'prefix' | 'exact'; s: string };

export const pathDomain: Domain<PathItem> = {
  meet(a, b) {
    if (a.kind === 'exact' && b.kind === 'exact') return a.s === b.s ? a : undefined;
    if (a.kind === 'prefix' && b.kind === 'prefix') {
      if (a.s.startsWith(b.s)) return a;
      if (b.s.startsWith(a.s)) return b;
      return undefined;
    }
    const [ex, pre] = a.kind === 'exact' ? [a, b] : [b, a];
    return ex.s.startsWith(pre.s) ? ex : undefined;
  },
  covers(a, b) {
    if (a.kind === 'exact') return b.kind === 'exact' && a.s === b.s;
    return b.s.startsWith(a.s);
  },
  key: (i) => `${i.s}${i.kind === 'prefix' ? '*' : ''}`,
};

// ---- network destinations --------------------------------------------------------------------

/**
 * A destination: a host name (or IP literal) or a CIDR, and a port. `host` undefined means
 * any host; `port` undefined any port.
 */
export interface DestItem {
  host?: string;
  cidr?: string;
  port?: number;
}

const isIp = (host: string) => !host.includes('/') && ipNet(host) !== undefined;

/** outer ⊇ inner, by Cedar's `isInRange`. */
function cidrContains(outer: string, inner: string): boolean {
  const o = ipNet(outer);
  const i = ipNet(inner);
  return !!o && !!i && inRange(i, o);
}

/** The address part of a destination as a CIDR, when it is one (an IP host is a /32 or /128). */
export function destCidr(d: DestItem): string | undefined {
  if (d.cidr) return d.cidr;
  if (d.host && isIp(d.host)) return `${d.host}/${d.host.includes(':') ? 128 : 32}`;
  return undefined;
}

function meetAddr(a: DestItem, b: DestItem): Pick<DestItem, 'host' | 'cidr'> | undefined | null {
  // null: disjoint; undefined fields: any host
  const ah = a.host ?? a.cidr;
  const bh = b.host ?? b.cidr;
  if (ah === undefined) return b.host ? { host: b.host } : b.cidr ? { cidr: b.cidr } : {};
  if (bh === undefined) return a.host ? { host: a.host } : a.cidr ? { cidr: a.cidr } : {};
  if (a.host && b.host)
    return a.host.toLowerCase() === b.host.toLowerCase() ? { host: a.host } : null;
  const ac = destCidr(a);
  const bc = destCidr(b);
  if (!ac || !bc) return null; // a name and a range: Cedar's ip() of a name is an error
  if (cidrContains(ac, bc)) return b.host ? { host: b.host } : { cidr: bc };
  if (cidrContains(bc, ac)) return a.host ? { host: a.host } : { cidr: ac };
  return null;
}

export const destDomain: Domain<DestItem> = {
  meet(a, b) {
    if (a.port !== undefined && b.port !== undefined && a.port !== b.port) return undefined;
    const addr = meetAddr(a, b);
    if (addr === null) return undefined;
    const port = a.port ?? b.port;
    return { ...addr, ...(port !== undefined ? { port } : {}) };
  },
  covers(a, b) {
    if (a.port !== undefined && a.port !== b.port) return false;
    if (a.host === undefined && a.cidr === undefined) return true;
    if (a.host && !isIp(a.host)) return b.host?.toLowerCase() === a.host.toLowerCase();
    const ac = destCidr(a);
    const bc = destCidr(b);
    return !!ac && !!bc && cidrContains(ac, bc);
  },
  key: (i) => `${i.host ?? i.cidr ?? '*'}:${i.port ?? '*'}`,
};
