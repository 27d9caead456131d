// Destination hosts as they are decided and connected to: one normalization for the egress
// proxy, the kernel compiler and NetworkDestination resources at /v1/decide, so the same host
// is never two things to two layers. Pure.

import { parseIp } from './compiled/extensions.js';
import type { IpNet } from './compiled/values.js';

/** An IP address or range as Cedar's `ip()` reads it, or undefined when Cedar would refuse it. */
export function ipNet(s: string): IpNet | undefined {
  try {
    return parseIp(s);
  } catch {
    return undefined;
  }
}

/** What the system resolver reads as an address: inet_aton's forms (`010.0.0.1` is octal). */
const addressLike = (host: string) =>
  host.includes(':') || /^(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+))*\.?$/i.test(host);

/**
 * inet_aton's reading of a numeric IPv4 form, as the resolver connects to it: one to four
 * parts, each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes
 * (`127.1` is 127.0.0.1, `2130706433` too, `0` is 0.0.0.0). Undefined when inet_aton refuses it
 * (the resolver would then look it up as a name: never decided as one).
 */
export function inetAton(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const p of parts) {
    const m = /^(?:0x([0-9a-f]+)|(0[0-7]*)|([1-9]\d*))$/i.exec(p);
    if (!m) return undefined;
    const v =
      m[1] !== undefined
        ? parseInt(m[1], 16)
        : m[2] !== undefined
          ? parseInt(m[2], 8)
          : Number(m[3]);
    if (!Number.isSafeInteger(v)) return undefined;
    values.push(v);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 0xff) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  const n = values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

const MAPPED_V4 = 0xffffn; // ::ffff:a.b.c.d, the upper 96 bits

/** `::ffff:1.2.3.4` → `::ffff:102:304`: Cedar reads IPv6 with an embedded IPv4 only in hex. */
function embeddedV4AsHex(h: string): string {
  const m = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(h);
  const v4 = m && ipNet(m[2]!);
  if (!m || !v4 || v4.v6) return h;
  const n = Number(v4.addr);
  return `${m[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
}

const v4Text = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');

/**
 * The host a destination is decided and connected as, for the egress proxy and for
 * NetworkDestination at /v1/decide alike: an address in the form Cedar's `ip()` reads, or a
 * (lower-case) name. Every form the kernel connects to loopback is loopback: the unspecified
 * address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`, `0`) is 127.0.0.1 or ::1; an IPv4-mapped IPv6
 * address is its IPv4 address (a rule on 10.0.0.0/8 covers `::ffff:a00:1`); inet_aton's
 * numeric forms are the address the resolver reads (`127.1`, `0x7f.1`, `2130706433`,
 * `010.0.0.1` = 8.0.0.1). Undefined for what is neither an address nor a name (`1.2.3.4.5`,
 * `1.2.3.4.`, zones, malformed IPv6): such a host must never be decided as a name and then
 * connected to.
 */
export function destinationHost(host: string): string | undefined {
  let h = host.toLowerCase();
  if (h.includes('/')) return undefined;
  // A name (no colon, not an inet_aton form) is no address Cedar's ip() reads: it is the
  // name, and the failed parse below would cost a thrown error per decision.
  if (!h.includes(':') && !addressLike(h)) return h;
  if (!h.includes(':') && addressLike(h)) {
    const v4 = inetAton(h);
    if (v4 === undefined) return undefined;
    h = v4;
  }
  const ip = ipNet(embeddedV4AsHex(h));
  if (!ip) return addressLike(h) ? undefined : h;
  if (ip.v6 && ip.addr >> 32n === MAPPED_V4) {
    const v4 = Number(ip.addr & 0xffffffffn);
    return v4 === 0 ? '127.0.0.1' : v4Text(v4);
  }
  if (ip.addr === 0n) return ip.v6 ? '::1' : '127.0.0.1';
  // One spelling per IPv6 address (RFC 5952, as WHATWG URL writes it), so equal hosts compare equal.
  return ip.v6 ? new URL(`http://[${h}]/`).hostname.slice(1, -1) : h;
}

/** A host and port from `https://h:1/p`, `h:1` or `h`; undefined for what is not one. */
export function argumentDestination(v: unknown): { host: string; port?: number } | undefined {
  if (typeof v !== 'string' || v === '' || v.length > 2048) return undefined;
  if (v.includes('://')) {
    try {
      const u = new URL(v);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      if (!host) return undefined;
      const port = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol];
      return port === undefined ? { host } : { host, port };
    } catch {
      return undefined;
    }
  }
  const m = /^(\[[^\]]+\]|[^\s/:]+)(?::(\d{1,5}))?(?:\/.*)?$/.exec(v);
  if (!m) return undefined;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return m[2] === undefined ? { host } : { host, port: Number(m[2]) };
}

const DEFAULT_PORTS: Record<string, number> = {
  'https:': 443,
  'http:': 80,
  'wss:': 443,
  'ws:': 80,
};

/** Keys whose value names a host even without a scheme (`host`, `targetHost`, `webhook_url` …). */
const DESTINATION_KEY = /(?:url|uri|host|hostname|destination|endpoint|webhook)$/i;
/** Most values looked at in one input: arguments are bounded, the walk over them is too. */
const WALK_LIMIT = 2000;

/**
 * The destinations a request's arguments name, at any depth: every string that is a URL with a
 * network scheme, and every `host:port` or host under a key that names one (`url`, `host`,
 * `destination`, `endpoint`, `webhookUrl` …). A tool that posts to a URL reaches the network as
 * surely as a connect does, whatever its argument is called or however deep it sits, so risk,
 * baselines and egress isolation treat those as destinations.
 */
export function inputDestinations(input: unknown): { host: string; port?: number }[] {
  const out: { host: string; port?: number }[] = [];
  const stack: [unknown, string][] = [[input, '']];
  for (let seen = 0; stack.length > 0 && seen < WALK_LIMIT; seen++) {
    const [v, key] = stack.pop()!;
    if (typeof v === 'string') {
      const d =
        /^[a-z][a-z0-9+.-]*:\/\//i.test(v) || DESTINATION_KEY.test(key)
          ? argumentDestination(v)
          : undefined;
      if (d && (v.includes('://') ? NETWORK_SCHEME.test(v) : true)) out.push(d);
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push([x, key]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) stack.push([x, k]);
    }
  }
  return out;
}

const NETWORK_SCHEME =
  /^(?:https?|wss?|ftp|ftps|sftp|ssh|smtp|smtps|tcp|udp|grpcs?|redis|rediss|postgres(?:ql)?|mysql|mongodb(?:\+srv)?|amqps?|mqtts?|ldaps?):\/\//i;
