// Which mechanism enforces which part of a kernel plan (pure). Files and exec go to Landlock by
// path hierarchy. Network destinations split three ways: IP addresses and ranges go to the
// cgroup eBPF allowlist (and their ports to Landlock), host names go to the egress proxy,
// which the kernel rules then make the only other way out.

import type { KernelPlan, Precision } from './compiler.js';
import { destCidr, destinationHost, type DestItem, type ItemSet, type PathItem } from './sets.js';

export type Mode = 'r' | 'w' | 'x';

export interface PathRule {
  mode: Mode;
  item: PathItem;
  /** Which actions asked for it. */
  from: string;
}

export interface IpRule {
  cidr: string;
  /** undefined: any port */
  port?: number;
}

export interface NetEnforcement {
  /** false: the policies allow every destination; nothing is restricted. */
  restricted: boolean;
  ip: IpRule[];
  /** Destinations by name: only the egress proxy can see them. */
  names: DestItem[];
  /** Whether Landlock can restrict TCP ports (false when an IP rule allows every port). */
  portsRestrictable: boolean;
  notes: string[];
}

export interface Enforcement {
  /** false when every file action is allowed everywhere (Landlock then handles nothing). */
  fsRestricted: boolean;
  paths: PathRule[];
  net: NetEnforcement;
  precision: Record<'readFile' | 'writeFile' | 'exec' | 'connectNetwork', Precision>;
  notes: string[];
}

const ALL = (s: ItemSet<unknown>) => s.co && s.items.length === 0;

function pathRules(s: ItemSet<PathItem>, mode: Mode, from: string, notes: string[]): PathRule[] {
  if (!s.co) return s.items.map((item) => ({ mode, item, from }));
  if (s.items.length > 0)
    notes.push(
      `${from}: everything except ${s.items.map((i) => i.s).join(', ')} is allowed; Landlock ` +
        'cannot hold exceptions, so it allows everything and the exceptions stay at the gateway ' +
        '(a launch refuses without --best-effort)',
    );
  return [{ mode, item: { kind: 'prefix', s: '/' }, from }];
}

export function enforcementOf(plan: KernelPlan): Enforcement {
  const notes: string[] = [];
  const fsRestricted = !(
    ALL(plan.readFile.allowed) &&
    ALL(plan.writeFile.allowed) &&
    ALL(plan.exec.allowed)
  );
  const paths = fsRestricted
    ? [
        ...pathRules(plan.readFile.allowed, 'r', 'readFile', notes),
        ...pathRules(plan.writeFile.allowed, 'w', 'writeFile', notes),
        ...pathRules(plan.exec.allowed, 'x', 'exec', notes),
      ]
    : [];
  return {
    fsRestricted,
    paths,
    net: netOf(plan.connectNetwork.allowed),
    precision: {
      readFile: plan.readFile.precision,
      writeFile: plan.writeFile.precision,
      exec: plan.exec.precision,
      connectNetwork: plan.connectNetwork.precision,
    },
    notes,
  };
}

function netOf(s: ItemSet<DestItem>): NetEnforcement {
  const notes: string[] = [];
  if (s.co) {
    if (s.items.length > 0)
      notes.push(
        'connectNetwork allows everything except some destinations: neither the kernel nor ' +
          '`cordon run` can hold exceptions, so those stay at the gateway (a launch refuses ' +
          'without --best-effort)',
      );
    return {
      restricted: false,
      ip: [],
      names: [],
      portsRestrictable: false,
      notes,
    };
  }
  const ip: IpRule[] = [];
  const names: DestItem[] = [];
  const bogus: string[] = [];
  for (const d of s.items) {
    const cidr = destCidr(d);
    if (cidr) ip.push({ cidr, ...(d.port !== undefined ? { port: d.port } : {}) });
    else if (d.host === undefined) {
      // any host on a port
      ip.push({ cidr: '0.0.0.0/0', port: d.port! }, { cidr: '::/0', port: d.port! });
    } else if (destinationHost(d.host) !== d.host.toLowerCase()) bogus.push(d.host);
    else names.push(d);
  }
  if (bogus.length > 0)
    notes.push(
      `${bogus.join(', ')}: neither an address or range Cedar's ip() reads nor a host name ` +
        '(the system resolver reads 010.0.0.1 as 8.0.0.1); not allowed: the egress proxy and ' +
        'the decision API decide such forms as the address they stand for, never as written',
    );
  const portsRestrictable = ip.every((r) => r.port !== undefined);
  if (!portsRestrictable)
    notes.push(
      'an address is allowed on every port: Landlock cannot restrict TCP ports; the cgroup ' +
        'eBPF allowlist still restricts addresses',
    );
  if (names.length > 0)
    notes.push(
      `host names (${names.map((n) => `${n.host}:${n.port ?? '*'}`).join(', ')}) are invisible ` +
        'to the kernel: they go through the egress proxy, which decides each CONNECT with the ' +
        'full policy; the kernel lets the agent reach only the proxy',
    );
  return { restricted: true, ip, names, portsRestrictable, notes };
}
