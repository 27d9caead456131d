// `cordon compile` and `cordon run`: the kernel layer (docs/kernel.md).

import type { Command } from 'commander';
import { Option } from 'commander';

/** The kernel layer and the PDP, loaded when compile or run runs. */
const lib = () => import('./kernel-lib.js');

type Exit = (code: number) => void;
const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

export class KernelCliError extends Error {}

async function loadSet(dir: string) {
  const { formatLocated, loadPolicyDir } = await lib();
  const r = await loadPolicyDir(dir);
  if (!r.ok) {
    for (const e of r.errors) err(formatLocated(e));
    throw new KernelCliError(`${dir}: the policies do not compile`);
  }
  return r.set;
}

const TARGETS = ['report', 'landlock', 'tetragon', 'kubearmor', 'cilium'] as const;

export function registerKernelCommands(program: Command, exit: Exit): void {
  program
    .command('compile')
    .description(
      "compile an agent's policies to kernel rules: a report of what the kernel enforces and what stays at the gateway, or cluster exports",
    )
    .requiredOption('--agent <id>', 'the agent (Agent::"<id>" in entities.json)')
    .requiredOption('--policies <dir>', 'policy directory')
    .addOption(
      new Option('--target <target>', 'what to print').choices([...TARGETS]).default('report'),
    )
    .option('--json', 'print JSON instead of text (YAML for the cluster exports)')
    .action(
      async (o: {
        agent: string;
        policies: string;
        target: (typeof TARGETS)[number];
        json?: boolean;
      }) => {
        const {
          buildLaunch,
          compileKernelPlan,
          enforcementOf,
          formatReport,
          KERNEL_ACTIONS,
          toCilium,
          toKubeArmor,
          toTetragon,
          YAML,
        } = await lib();
        const set = await loadSet(o.policies);
        const plan = compileKernelPlan(set, o.agent);
        const enf = enforcementOf(plan);
        if (o.target === 'report') {
          out(
            o.json ? JSON.stringify({ plan, enforcement: enf }, null, 2) : formatReport(plan, enf),
          );
        } else if (o.target === 'landlock') {
          const spec = await buildLaunch(enf, {
            command: ['/bin/true'],
            bestEffort: false,
            runtime: false,
          });
          // What the kernel does not hold (forbids left to the gateway, permits not granted) is
          // said here too: the paths alone would hide it.
          const view = {
            paths: spec.paths,
            options: spec.options,
            notes: [
              ...KERNEL_ACTIONS.flatMap((a) => plan[a].notes.map((n) => `${a}: ${n}`)),
              ...enf.notes,
              ...spec.notes,
              ...enf.net.notes,
            ],
          };
          if (o.json) out(JSON.stringify(view, null, 2));
          else {
            for (const p of spec.paths)
              out(
                `${p.mode}  ${p.pattern}  →  ${p.matched.length ? p.matched.join(', ') : '(not granted: see the notes)'}`,
              );
            out(`cordon-launch ${spec.options.join(' ')} -- COMMAND`);
            for (const n of view.notes) out(`- ${n}`);
          }
        } else {
          const x = { tetragon: toTetragon, kubearmor: toKubeArmor, cilium: toCilium }[o.target](
            plan,
            enf,
          );
          if (o.json) out(JSON.stringify(x.resource, null, 2));
          else {
            for (const n of x.notes) out(`# ${n}`);
            out(YAML.stringify(x.resource, { aliasDuplicateObjects: false }).trimEnd());
          }
        }
        exit(0);
      },
    );

  program
    .command('run')
    .description(
      'run a command as an agent, sandboxed by its compiled policies (Landlock, cgroup eBPF, egress proxy)',
    )
    .requiredOption('--agent <id>', 'the agent (Agent::"<id>" in entities.json)')
    .requiredOption('--policies <dir>', 'policy directory')
    .option('--data <dir>', 'data directory (audit log)', './.cordon')
    .option(
      '--session <id>',
      "the agent's session: the egress proxy decides in it, so session rules apply (its history comes from the gateways using the same data directory)",
    )
    .option(
      '--best-effort',
      'run even when the machine refuses a mechanism, printing what is not enforced',
    )
    .option('--verbose', 'print the compile report and what the launcher applies')
    .option(
      '--follow <url>',
      "obey the agent's isolation as the PDP at URL holds it (cordon isolate), followed by a long poll while the command runs",
    )
    .option(
      '--follow-data <dir>',
      "that PDP's data directory, for its admin credential (or --token / CORDON_CREDENTIAL)",
      './.cordon',
    )
    .option('--token <jwt>', 'a credential for --follow instead of the admin credential')
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(
      async (
        command: string[],
        o: {
          agent: string;
          policies: string;
          data: string;
          session?: string;
          bestEffort?: boolean;
          verbose?: boolean;
          follow?: string;
          followData: string;
          token?: string;
        },
      ) => {
        const {
          combinedSource,
          followBaseline,
          followSource,
          ownBaseline,
          parseConfig,
          openPdp,
          pino,
          runSandboxed,
          serviceSource,
        } = await lib();
        const config = parseConfig({ policies: o.policies, data: o.data, watch: false });
        const pdp = await openPdp(config, pino({ level: 'warn' }, pino.destination(2)));
        // Its own PDP's isolations (what the proxy's decisions apply), and the server's.
        const own = serviceSource(pdp.isolation);
        const server = o.follow ? { url: o.follow, data: o.followData, token: o.token } : undefined;
        const isolation = server ? combinedSource(own, followSource(server, o.agent)) : own;
        const baseline = server ? followBaseline(server, o.agent) : ownBaseline(pdp, o.agent);
        try {
          const r = await runSandboxed({
            agent: o.agent,
            // One snapshot for the kernel plan, the launch record and the proxy's decisions.
            set: pdp.policies.current(),
            pdp,
            command,
            ...(o.session ? { session: o.session } : {}),
            bestEffort: !!o.bestEffort,
            ...(o.verbose ? { verbose: true } : {}),
            isolation,
            ...(baseline ? { baseline } : {}),
          });
          exit(r.code);
        } finally {
          await pdp.close();
        }
      },
    );
}
