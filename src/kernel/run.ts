// `cordon run`: compile the agent's policies, check which mechanisms this machine gives, start
// the egress proxy, record the launch, and run the command under the native launcher.
// A mechanism the plan needs and the machine refuses stops the launch, unless best effort
// was asked for; then every such gap is printed.

import { spawn, type StdioOptions } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Pdp } from '../runtime/pdp.js';
import type { DecisionService } from '../decision/service.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import type { DecisionTrace } from '../core/engine.js';
import { compileKernelPlan, KERNEL_ACTIONS, type KernelPlan } from './compiler.js';
import { enforcementOf, type Enforcement } from './enforcement.js';
import { allowlistOf, buildLaunch, proxyEntry, type LaunchSpec } from './launch.js';
import { formatReport } from './report.js';
import { createAgentGroup, findCgroup2Mount, removeAgentGroup } from './cgroup.js';
import { destId, startEgressProxy, type EgressProxy } from './proxy.js';
import { initialFacts } from '../core/pipeline.js';
import {
  applyIsolation,
  egressCut,
  sandboxIsolation,
  watchIsolation,
  type IsolationSource,
  type SandboxIsolation,
  type SandboxParts,
} from '../sandbox/isolation.js';
import { AllowlistServer, EGRESS_TOOL } from '../sandbox/live-egress.js';

export const LAUNCHER = fileURLToPath(new URL('../../native/build/cordon-launch', import.meta.url));
export const BPF_OBJECT = fileURLToPath(
  new URL('../../native/build/egress.bpf.o', import.meta.url),
);

export class KernelRunError extends Error {}

export interface RunOptions {
  agent: string;
  set: CompiledPolicySet;
  /** The decision point for proxy decisions and the launch record. */
  pdp: Pdp;
  command: string[];
  /** The session the agent works in: its history (labels) reaches the proxy's decisions. */
  session?: string;
  bestEffort: boolean;
  env?: NodeJS.ProcessEnv;
  /** The command's stdin, stdout and stderr (default: inherited); file descriptors capture them. */
  stdio?: StdioOptions;
  /** Where messages for the user go (stderr). */
  say?: (s: string) => void;
  launcher?: string;
  bpfObject?: string;
  /** Print the compile report, the launch notes and what the launcher applies. */
  verbose?: boolean;
  /**
   * Where the agent's isolation is kept: read before the launch (a full isolation refuses it,
   * read-only and a cut egress start the sandbox narrowed) and watched while it runs.
   */
  isolation?: IsolationSource;
  /** cordon-egress, which changes the running sandbox's allowlist. */
  egressTool?: string;
  /** The `host:port` destinations of the agent's baseline, for egress "baseline" (SandboxParts). */
  baseline?: () => Promise<string[] | undefined>;
}

export interface Prepared {
  plan: KernelPlan;
  enforcement: Enforcement;
  launch: LaunchSpec;
  /** Mechanisms the plan needs that are not enforced (best effort), each with why. */
  unenforced: string[];
  proxy?: EgressProxy;
  cgroupDir?: string;
  env: NodeJS.ProcessEnv;
  launcher: string;
  /** The isolation in force at launch, if any. */
  isolation?: SandboxIsolation;
  /** What an isolation acts on while the sandbox runs. */
  parts: SandboxParts;
}

const executable = (p: string) =>
  access(p, constants.X_OK).then(
    () => true,
    () => false,
  );
const readable = (p: string) =>
  access(p, constants.R_OK).then(
    () => true,
    () => false,
  );

/**
 * The egress proxy's question for each destination: `connectNetwork` as the agent, in its
 * session when it has one, so session rules (nothing leaves after a PII read) apply there too.
 */
export function egressDecider(decisions: DecisionService, agent: string, session?: string) {
  return async (host: string, port: number) => {
    const d = await decisions.decide({
      agent,
      ...(session ? { session } : {}),
      action: 'connectNetwork',
      resource: { type: 'NetworkDestination', id: destId(host, port) },
      pep: 'egress',
    });
    return {
      allow: d.decision === 'allow',
      decisionId: d.decisionId,
      reason: d.reasons.map((r) => r.policy).join(', '),
    };
  };
}

/**
 * Read-only isolation at launch: only the read rules stay (everything readable when files
 * were unrestricted); the launcher allowances still let the command start.
 */
function readOnly(enf: Enforcement): Enforcement {
  return {
    ...enf,
    fsRestricted: true,
    paths: enf.fsRestricted
      ? enf.paths.filter((p) => p.mode === 'r')
      : [{ mode: 'r', item: { kind: 'prefix', s: '/' }, from: 'isolation (read-only)' }],
  };
}

/** The isolation in force for the agent now; a store that cannot be read refuses the launch. */
async function isolationAtLaunch(o: RunOptions): Promise<SandboxIsolation | undefined> {
  if (!o.isolation) return undefined;
  let states;
  try {
    states = await o.isolation.store.active(new Date());
  } catch (e) {
    throw new KernelRunError(
      `the isolation store cannot be read (${(e as Error).message}): not launching an agent whose isolation is unknown`,
    );
  }
  const iso = sandboxIsolation(states, o.agent, o.session);
  if (iso?.full) throw new KernelRunError(`${iso.reason}. Refusing to launch`);
  return iso;
}

/** Sets up everything before the launch; the caller must `release` it. */
export async function prepareRun(o: RunOptions): Promise<Prepared> {
  const plan = compileKernelPlan(o.set, o.agent);
  const isolation = await isolationAtLaunch(o);
  const compiled = enforcementOf(plan);
  const enforcement = isolation?.readOnly ? readOnly(compiled) : compiled;
  const unenforced: string[] = [];
  const refuse = (what: string) => {
    if (!o.bestEffort)
      throw new KernelRunError(`${what}. Refusing to launch (use --best-effort to run anyway)`);
    unenforced.push(what);
  };
  // "Everything except …": a forbid the kernel cannot hold. Launching would silently drop it.
  for (const action of KERNEL_ACTIONS) {
    const allowed = plan[action].allowed;
    if (allowed.co && allowed.items.length > 0)
      refuse(
        `${action} is allowed except for ${allowed.items.length} forbidden ${action === 'connectNetwork' ? 'destination(s)' : 'path(s)'}, which the kernel cannot hold (they stay at the gateway)`,
      );
  }
  const launcher = o.launcher ?? LAUNCHER;
  if (!(await executable(launcher)))
    throw new KernelRunError(
      `the sandbox launcher ${launcher} is not built (needs a C compiler at npm install time)`,
    );

  let proxy: EgressProxy | undefined;
  let cgroupDir: string | undefined;
  let bpfObject: string | undefined;
  const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env) };
  try {
    const net = enforcement.net;
    if (net.restricted && net.names.length > 0) {
      proxy = await startEgressProxy(egressDecider(o.pdp.decisions, o.agent, o.session));
      const url = `http://127.0.0.1:${proxy.port}`;
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY'])
        env[k] = url;
      delete env.NO_PROXY;
      delete env.no_proxy;
    }
    const mount = findCgroup2Mount();
    const obj = o.bpfObject ?? BPF_OBJECT;
    if (net.restricted) {
      if (process.getuid?.() !== 0)
        refuse(
          'IP egress (cgroup eBPF) needs root: addresses and UDP are not restricted, only TCP ports',
        );
      else if (!mount)
        refuse('IP egress (cgroup eBPF) needs a cgroup v2 hierarchy: none is mounted');
      else if (!(await readable(obj)))
        refuse(`IP egress (cgroup eBPF): ${obj} is not built (needs clang and libbpf-dev)`);
      else {
        cgroupDir = await createAgentGroup(
          mount,
          `${o.agent.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}`,
        );
        bpfObject = obj;
      }
    } else if (
      o.isolation &&
      process.getuid?.() === 0 &&
      mount &&
      (await readable(obj)) &&
      (await executable(o.egressTool ?? EGRESS_TOOL))
    ) {
      // Every destination is allowed; the group and its allow-all programs are there so an
      // isolation can still cut egress (and kill) while the agent runs.
      cgroupDir = await createAgentGroup(
        mount,
        `${o.agent.replace(/[^A-Za-z0-9_.-]/g, '_')}-${randomBytes(4).toString('hex')}`,
      );
      bpfObject = obj;
    }
    const parts: SandboxParts = {
      ...(mount && cgroupDir ? { mount, cgroupDir } : {}),
      ebpf: !!bpfObject,
      allowlist: allowlistOf(enforcement, proxy?.port),
      ...(proxy ? { proxy, proxyEntry: proxyEntry(proxy.port) } : {}),
      ...(o.egressTool ? { tool: o.egressTool } : {}),
      ...(o.baseline ? { baseline: o.baseline } : {}),
    };
    const cut = await egressCut(parts, isolation);
    proxy?.isolate(cut.proxy);
    const launch = await buildLaunch(enforcement, {
      command: o.command,
      bestEffort: o.bestEffort,
      ...(proxy ? { proxyPort: proxy.port } : {}),
      ...(cgroupDir ? { cgroupDir } : {}),
      ...(bpfObject ? { bpfObject, allowlist: cut.allowlist } : {}),
    });
    if (net.restricted && !net.portsRestrictable && !cgroupDir)
      refuse('TCP ports cannot be restricted by Landlock for this plan and eBPF is unavailable');
    return {
      plan,
      enforcement,
      launch,
      unenforced,
      ...(proxy ? { proxy } : {}),
      ...(cgroupDir ? { cgroupDir } : {}),
      env,
      launcher,
      ...(isolation ? { isolation } : {}),
      parts,
    };
  } catch (e) {
    await proxy?.close();
    if (cgroupDir) await removeAgentGroup(cgroupDir);
    throw e;
  }
}

export async function releaseRun(p: Prepared): Promise<string[]> {
  const left: string[] = [];
  await p.proxy?.close();
  if (p.cgroupDir && !(await removeAgentGroup(p.cgroupDir)))
    left.push(`the cgroup ${p.cgroupDir} still has processes and was left in place`);
  return left;
}

/** The launch as one audit record: what was compiled, what is enforced, what is not. */
async function recordLaunch(pdp: Pdp, o: RunOptions, p: Prepared): Promise<string> {
  const id = randomUUID();
  if (!pdp.audit) return id;
  const set = o.set;
  const trace: DecisionTrace = {
    decision: {
      decision: 'allow',
      reasons: [
        {
          policy: 'cordon/kernel-launch',
          effect: 'permit',
          annotations: {},
          message: 'agent launched under compiled kernel rules',
        },
      ],
      obligations: [],
      risk: { score: 0, level: 'low' },
      policyVersion: set.version,
      decisionId: id,
    },
    request: {
      agent: o.agent,
      action: 'exec',
      resource: { type: 'FilePath', id: p.launch.command[0]! },
      pep: 'kernel',
      context: {
        kernel: {
          command: p.launch.command,
          landlock: p.launch.options,
          unenforced: p.unenforced,
          policies: p.plan.policies.map((x) => ({ id: x.id, layer: x.layer })),
          precision: p.enforcement.precision,
          ...(p.isolation ? { isolation: p.isolation.reason } : {}),
        },
      },
    },
    facts: { ...initialFacts(undefined), delegation: { depth: 1, chain: [o.agent], user: '' } },
    kind: 'launch',
    time: new Date(),
    set,
    agent: o.agent,
    labels: [],
    destructive: false,
  };
  await pdp.audit.append(trace);
  return id;
}

export interface RunResult {
  code: number;
  prepared: Prepared;
}

/** Runs the command sandboxed and waits for it; the exit code is the command's. */
export async function runSandboxed(o: RunOptions): Promise<RunResult> {
  const say = o.say ?? ((s: string) => process.stderr.write(`${s}\n`));
  const prepared = await prepareRun(o);
  try {
    for (const u of prepared.unenforced) say(`cordon run: NOT ENFORCED: ${u}`);
    if (o.verbose) {
      say(formatReport(prepared.plan, prepared.enforcement));
      for (const n of prepared.launch.notes) say(`cordon run: ${n}`);
      for (const a of prepared.launch.runtime)
        say(`cordon run: launcher allowance ${a.mode} ${a.path} (${a.why})`);
      prepared.launch.options.unshift('--report');
    }
    await recordLaunch(o.pdp, o, prepared);
    const child = spawn(
      prepared.launcher,
      [...prepared.launch.options, '--', ...prepared.launch.command],
      {
        stdio: o.stdio ?? 'inherit',
        env: prepared.env,
      },
    );
    prepared.parts.killCommand = () => child.kill('SIGKILL');
    // Kept running beside the sandbox, so a cut does not wait for a process to start.
    const allowlist =
      o.isolation && prepared.cgroupDir && prepared.parts.ebpf
        ? new AllowlistServer(prepared.cgroupDir, o.egressTool).start()
        : undefined;
    if (allowlist) prepared.parts.setAllowlist = (e) => allowlist.set(e);
    const watch = o.isolation
      ? watchIsolation(
          o.isolation,
          o.agent,
          o.session,
          async (now, before) => {
            if (now) say(`cordon run: ${now.reason}`);
            else say(`cordon run: agent ${o.agent} released from isolation`);
            for (const l of await applyIsolation(prepared.parts, now, before))
              say(`cordon run: ${l}`);
          },
          (e) => say(`cordon run: isolation: ${e.message}`),
          prepared.isolation,
        )
      : undefined;
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    try {
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (c, s) =>
          resolve(
            c ??
              128 +
                (s
                  ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[s] ?? 1)
                  : 1),
          ),
        );
      });
      return { code, prepared };
    } finally {
      watch?.stop();
      allowlist?.close();
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  } finally {
    for (const l of await releaseRun(prepared)) say(`cordon run: ${l}`);
  }
}
