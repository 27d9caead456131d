// Cluster exports of a kernel plan, for agents that run as pods labelled
// `cordon.dev/agent: <id>`: a Tetragon TracingPolicy (kprobes with Override for files and
// exec, Sigkill on tcp_connect for addresses), a KubeArmorPolicy (allow lists) and a
// CiliumNetworkPolicy (toFQDNs for host names, toCIDR for addresses). Each returns the
// resource and the notes on what it cannot express. Pure.

import type { KernelPlan } from '../compiler.js';
import type { Enforcement } from '../enforcement.js';
import type { PathItem } from '../sets.js';

const AGENT_LABEL = 'cordon.dev/agent';

export interface Exported {
  resource: Record<string, unknown>;
  notes: string[];
}

const labelValue = (agent: string) => agent.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63);
const resourceName = (agent: string, suffix: string) =>
  `cordon-${agent.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}-${suffix}`.slice(0, 253);

function meta(plan: KernelPlan, suffix: string) {
  return {
    name: resourceName(plan.agent, suffix),
    annotations: {
      'cordon.dev/agent': plan.agent,
      'cordon.dev/policy-version': plan.policyVersion,
      'cordon.dev/generated': 'cordon compile',
    },
  };
}

const EACCES = -13;

function prefixes(items: PathItem[]): string[] {
  return [...new Set(items.map((i) => i.s))].sort();
}

export function toTetragon(plan: KernelPlan, enf: Enforcement): Exported {
  const notes: string[] = [];
  const kprobes: Record<string, unknown>[] = [];
  const overrideAction = [{ action: 'Override', argError: EACCES }];
  if (enf.fsRestricted) {
    const read = prefixes(enf.paths.filter((p) => p.mode === 'r').map((p) => p.item));
    const write = prefixes(enf.paths.filter((p) => p.mode === 'w').map((p) => p.item));
    const exec = prefixes(enf.paths.filter((p) => p.mode === 'x').map((p) => p.item));
    if (enf.paths.some((p) => p.item.kind === 'exact'))
      notes.push(
        'exact paths are exported as Prefix matches: a longer path with the same start is allowed too',
      );
    // security_file_permission(file, mask): MAY_READ 4, MAY_WRITE 2 (mask as an int argument).
    const selectors: Record<string, unknown>[] = [];
    for (const [mask, allowed] of [
      ['4', read],
      ['2', write],
    ] as const) {
      const args: Record<string, unknown>[] = [{ index: 1, operator: 'Equal', values: [mask] }];
      if (allowed.length > 0) args.unshift({ index: 0, operator: 'NotPrefix', values: allowed });
      selectors.push({ matchArgs: args, matchActions: overrideAction });
    }
    kprobes.push({
      call: 'security_file_permission',
      syscall: false,
      args: [
        { index: 0, type: 'file' },
        { index: 1, type: 'int' },
      ],
      selectors,
    });
    kprobes.push({
      call: 'security_bprm_check',
      syscall: false,
      args: [{ index: 0, type: 'linux_binprm' }],
      selectors: [
        exec.length > 0
          ? {
              matchArgs: [{ index: 0, operator: 'NotPrefix', values: exec }],
              matchActions: overrideAction,
            }
          : { matchActions: overrideAction },
      ],
    });
    if (exec.length === 0)
      notes.push(
        'no executable is allowed: every exec in the selected pods after the policy loads is refused (start the agent first)',
      );
  }
  const net = enf.net;
  if (net.restricted && net.names.length > 0) {
    // A name resolves at run time; tcp_connect sees only an address. An address allowlist
    // without the names' addresses would kill every allowed connection by name.
    notes.push(
      `connectNetwork is not enforced by this TracingPolicy: host names ` +
        `(${[...new Set(net.names.map((n) => n.host))].join(', ')}) resolve at run time and ` +
        'cannot be enforced in the kernel, so no tcp_connect rule is emitted and no destination ' +
        '(addresses included) is restricted here; connectNetwork stays at the gateway and ' +
        "Cordon's egress proxy; in the cluster, the Cilium export (toFQDNs) restricts names",
    );
  } else if (net.restricted) {
    const cidrs = [...new Set(net.ip.map((r) => r.cidr))].sort();
    if (net.ip.some((r) => r.port !== undefined))
      notes.push(
        'ports are not matched together with addresses: any port to an allowed address passes',
      );
    kprobes.push({
      call: 'tcp_connect',
      syscall: false,
      args: [{ index: 0, type: 'sock' }],
      selectors: [
        {
          matchArgs: cidrs.length > 0 ? [{ index: 0, operator: 'NotDAddr', values: cidrs }] : [],
          matchActions: [{ action: 'Sigkill' }],
        },
      ],
    });
    notes.push(
      'tcp_connect cannot be overridden: a connection to a refused address kills the process (Sigkill)',
    );
  }
  return {
    resource: {
      apiVersion: 'cilium.io/v1alpha1',
      kind: 'TracingPolicy',
      metadata: meta(plan, 'tetragon'),
      spec: {
        podSelector: { matchLabels: { [AGENT_LABEL]: labelValue(plan.agent) } },
        kprobes,
      },
    },
    notes,
  };
}

export function toKubeArmor(plan: KernelPlan, enf: Enforcement): Exported {
  const notes: string[] = [
    'KubeArmor Allow rules are an allow list only where the default posture is block ' +
      '(kubearmor-file-posture / kubearmor-network-posture: block on the namespace)',
  ];
  const matchDirectories: Record<string, unknown>[] = [];
  const matchPaths: Record<string, unknown>[] = [];
  const matchPatterns: Record<string, unknown>[] = [];
  const processPaths: Record<string, unknown>[] = [];
  const processDirs: Record<string, unknown>[] = [];
  if (enf.fsRestricted) {
    const writable = new Set(
      enf.paths.filter((p) => p.mode === 'w').map((p) => `${p.item.kind}:${p.item.s}`),
    );
    const seen = new Set<string>();
    for (const r of enf.paths) {
      if (r.mode === 'x') {
        if (r.item.kind === 'exact') processPaths.push({ path: r.item.s });
        else if (r.item.s.endsWith('/')) processDirs.push({ dir: r.item.s, recursive: true });
        else
          notes.push(
            `exec "${r.item.s}*": KubeArmor process rules have no prefix patterns; not exported`,
          );
        continue;
      }
      const k = `${r.item.kind}:${r.item.s}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const readOnly = !writable.has(k);
      if (r.item.kind === 'exact' && r.item.s.endsWith('/'))
        matchDirectories.push({ dir: r.item.s, recursive: false, readOnly });
      else if (r.item.kind === 'exact') matchPaths.push({ path: r.item.s, readOnly });
      else if (r.item.s.endsWith('/'))
        matchDirectories.push({ dir: r.item.s, recursive: true, readOnly });
      else matchPatterns.push({ pattern: `${r.item.s}*`, readOnly });
    }
  }
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { [AGENT_LABEL]: labelValue(plan.agent) } },
    action: 'Allow',
    message: `Cordon kernel plan for ${plan.agent}`,
  };
  const file: Record<string, unknown> = {};
  if (matchDirectories.length) file.matchDirectories = matchDirectories;
  if (matchPaths.length) file.matchPaths = matchPaths;
  if (matchPatterns.length) file.matchPatterns = matchPatterns;
  if (Object.keys(file).length) spec.file = file;
  const proc: Record<string, unknown> = {};
  if (processPaths.length) proc.matchPaths = processPaths;
  if (processDirs.length) proc.matchDirectories = processDirs;
  if (Object.keys(proc).length) spec.process = proc;
  if (enf.fsRestricted && !spec.process)
    notes.push('no executable is allowed: with a block posture, no process rule means no exec');
  const net = enf.net;
  if (net.restricted) {
    spec.network = {
      matchProtocols: [{ protocol: 'tcp' }, { protocol: 'udp' }],
      ...(net.names.length
        ? {
            matchDNSQueries: [...new Set(net.names.map((n) => n.host!))].map((domain) => ({
              domain,
            })),
          }
        : {}),
    };
    notes.push(
      'KubeArmor matches protocols and DNS names, not addresses or ports: use the Cilium export for those',
    );
  }
  return {
    resource: {
      apiVersion: 'security.kubearmor.com/v1',
      kind: 'KubeArmorPolicy',
      metadata: meta(plan, 'kubearmor'),
      spec,
    },
    notes,
  };
}

export function toCilium(plan: KernelPlan, enf: Enforcement): Exported {
  const notes: string[] = [];
  const net = enf.net;
  const egress: Record<string, unknown>[] = [];
  const portsOf = (port: number | undefined) =>
    port === undefined ? {} : { toPorts: [{ ports: [{ port: String(port), protocol: 'TCP' }] }] };
  if (!net.restricted) {
    notes.push('connectNetwork allows every destination: nothing to restrict');
    egress.push({ toEntities: ['all'] });
  } else {
    if (net.names.length > 0) {
      // Cilium learns names from DNS answers: the pod must be allowed to ask kube-dns.
      egress.push({
        toEndpoints: [
          {
            matchLabels: {
              'k8s:io.kubernetes.pod.namespace': 'kube-system',
              'k8s:k8s-app': 'kube-dns',
            },
          },
        ],
        toPorts: [
          { ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } },
        ],
      });
      const byPort = new Map<string, { port?: number; names: string[] }>();
      for (const n of net.names) {
        const k = String(n.port ?? '*');
        const e = byPort.get(k) ?? { ...(n.port !== undefined ? { port: n.port } : {}), names: [] };
        e.names.push(n.host!);
        byPort.set(k, e);
      }
      for (const e of byPort.values())
        egress.push({
          toFQDNs: e.names.sort().map((matchName) => ({ matchName })),
          ...portsOf(e.port),
        });
    }
    const byPort = new Map<string, { port?: number; cidrs: string[] }>();
    for (const r of net.ip) {
      const k = String(r.port ?? '*');
      const e = byPort.get(k) ?? { ...(r.port !== undefined ? { port: r.port } : {}), cidrs: [] };
      e.cidrs.push(r.cidr);
      byPort.set(k, e);
    }
    for (const e of byPort.values()) egress.push({ toCIDR: e.cidrs.sort(), ...portsOf(e.port) });
    if (egress.length === 0) {
      notes.push(
        'no destination is allowed: the policy selects the pods with an empty egress allow list',
      );
      egress.push({ toEndpoints: [{ matchLabels: { 'cordon.dev/none': 'none' } }] });
    }
    notes.push(
      'toCIDR matches destinations outside the cluster only; in-cluster peers need toEndpoints',
    );
  }
  if (enf.fsRestricted)
    notes.push('files and exec are not network policy: use the Tetragon or KubeArmor export');
  return {
    resource: {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: meta(plan, 'egress'),
      spec: {
        description: `Cordon kernel plan for ${plan.agent} (connectNetwork)`,
        endpointSelector: { matchLabels: { [AGENT_LABEL]: labelValue(plan.agent) } },
        egress,
      },
    },
    notes,
  };
}
