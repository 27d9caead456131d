// The compile report as text: per action what the kernel allows and how exact that is, which
// mechanism enforces it, and each policy's layer with the reason. Pure.

import { describeSet, type KernelPlan } from './compiler.js';
import type { Enforcement } from './enforcement.js';
import { destDomain, pathDomain } from './sets.js';

const PRECISION: Record<string, string> = {
  exact: 'exact',
  over: 'over-approximation (the kernel allows more; the gateway enforces the rest)',
  under: 'under-approximation (the kernel refuses some of what the policies allow; fail closed)',
  'over+under': 'over- and under-approximation',
};

export function formatReport(plan: KernelPlan, enf: Enforcement): string {
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  out(`Kernel compile report for Agent::"${plan.agent}" (policies ${plan.policyVersion})`);
  out();
  out('Actions');
  for (const a of ['readFile', 'writeFile', 'exec'] as const) {
    const p = plan[a];
    out(`  ${a.padEnd(15)} ${describeSet(p.allowed, pathDomain.key)}`);
    out(`  ${''.padEnd(15)} ${PRECISION[p.precision]}`);
    for (const n of p.notes) out(`  ${''.padEnd(15)} - ${n}`);
  }
  const n = plan.connectNetwork;
  out(`  ${'connectNetwork'.padEnd(15)} ${describeSet(n.allowed, destDomain.key)}`);
  out(`  ${''.padEnd(15)} ${PRECISION[n.precision]}`);
  for (const x of n.notes) out(`  ${''.padEnd(15)} - ${x}`);
  out();
  out('Mechanisms');
  if (enf.fsRestricted) {
    out('  Landlock (files, exec): deny by default, allow beneath');
    for (const r of enf.paths)
      out(
        `    ${r.mode}  ${pathDomain.key(r.item)}${r.item.kind === 'prefix' ? '  (existing matches at launch)' : ''}`,
      );
  } else out('  Landlock (files, exec): not restricted (the policies allow everything)');
  const net = enf.net;
  if (!net.restricted) out('  network: not restricted');
  else {
    out(
      `  cgroup eBPF connect4/6, sendmsg4/6 (root): allow ${net.ip.length ? net.ip.map((r) => `${r.cidr}:${r.port ?? '*'}`).join(', ') : 'no address'}${net.names.length ? ' + the egress proxy' : ''}`,
    );
    out(
      `  Landlock TCP connect (ABI 4+): ${net.portsRestrictable ? `ports ${[...new Set(net.ip.map((r) => r.port))].join(', ') || 'none'}${net.names.length ? ' + the proxy port' : ''}` : 'not restricted'}`,
    );
    out(
      `  egress proxy (HTTP_PROXY, CONNECT): ${net.names.length ? net.names.map((d) => `${d.host}:${d.port ?? '*'}`).join(', ') : 'not needed'}`,
    );
  }
  for (const x of [...enf.notes, ...net.notes]) out(`  - ${x}`);
  out();
  out('Policies');
  for (const p of plan.policies) {
    const viaProxy =
      p.actions.includes('connectNetwork') && p.layer !== 'gateway' && enf.net.names.length > 0;
    out(
      `  ${p.id} (${p.effect}, ${p.file}): ${p.layer}${viaProxy ? ' + egress proxy (host names)' : ''}`,
    );
    for (const x of p.notes) out(`    ${x}`);
  }
  return lines.join('\n');
}
