// How a `cordon run` sandbox obeys its agent's isolation while it runs. `cordon run` is its own
// process, apart from `cordon serve`: it watches the isolation states (its own PDP's store, and
// the server it follows, polled every 250 ms, and at once when a change is heard) and acts on
// what changes:
// egress cut in the kernel allowlist and at the egress proxy, open connections ended, and on
// full isolation every process of the sandbox killed (docs/kernel.md).

import type { ChangeBus, IsolationState, IsolationStore } from '../store/ports.js';
import { destId, type EgressIsolation, type EgressProxy } from '../kernel/proxy.js';
import { ipNet } from '../core/destination.js';
import { allowlistCovers, endConnections, killGroup, setAllowlist } from './live-egress.js';

/** The isolation in force for one sandbox: the measures of every state that reaches it. */
export interface SandboxIsolation {
  /** none: no egress; baseline: only the agent's baseline (see `egressReason`). */
  egress?: 'none' | 'baseline';
  readOnly: boolean;
  /** End the sandbox's processes. */
  full: boolean;
  /** Names the isolation and why it was applied, for refusals and messages. */
  reason: string;
}

/** A state reaches the sandbox of `agent` when it is agent-wide or for the sandbox's session. */
const reaches = (s: IsolationState, agent: string, session?: string) =>
  s.agent === agent && s.user === undefined && (s.session === undefined || s.session === session);

/**
 * The sandbox's isolation from the states in force, or undefined when none reaches it. A state
 * scoped to one user does not: a sandbox does not know for which user its agent acts.
 */
export function sandboxIsolation(
  states: readonly IsolationState[],
  agent: string,
  session?: string,
): SandboxIsolation | undefined {
  const mine = states.filter((s) => reaches(s, agent, session));
  if (mine.length === 0) return undefined;
  const full = mine.some((s) => s.measures.full);
  const egress =
    full || mine.some((s) => s.measures.egress === 'none')
      ? 'none'
      : mine.some((s) => s.measures.egress === 'baseline')
        ? 'baseline'
        : undefined;
  const readOnly = full || mine.some((s) => s.measures.readOnly === true);
  const why = mine
    .map((s) => {
      const what = s.measures.full
        ? 'full'
        : [
            s.measures.egress === 'none' && 'no egress',
            s.measures.egress === 'baseline' && 'egress limited to the baseline',
            s.measures.readOnly && 'read-only',
            s.measures.noDelegation && 'no delegation',
            s.measures.revokedTools?.length &&
              `tools revoked: ${s.measures.revokedTools.join(', ')}`,
          ]
            .filter(Boolean)
            .join(', ');
      const scope = s.session ? ` in session ${s.session}` : '';
      return `agent ${s.agent} is isolated${scope} (${what}) by ${s.by}: ${s.reason}`;
    })
    .join('; ');
  return { ...(egress ? { egress } : {}), readOnly, full, reason: why };
}

/** The same isolation twice, so a poll that finds nothing new does nothing. */
const sameIsolation = (a?: SandboxIsolation, b?: SandboxIsolation) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export interface IsolationSource {
  store: Pick<IsolationStore, 'active'>;
  /** Tells of a change (a shared bus message): the next poll runs at once. Returns the unsubscribe. */
  subscribe?: (onChange: () => void) => () => void;
  /** Poll interval; 250 ms keeps the whole path (poll, map update, socket ends) under a second. */
  intervalMs?: number;
}

/** A store and its change bus (`stores.isolation` and `stores.bus` of one backend). */
export const busSource = (
  store: Pick<IsolationStore, 'active'>,
  bus: Pick<ChangeBus, 'subscribe'>,
): IsolationSource => ({ store, subscribe: (f) => bus.subscribe('isolation', () => f()) });

/** What an isolation service in this process knows (the PDP's, which `cordon run` opens). */
export interface IsolationServiceView {
  refresh(): Promise<void>;
  list(): IsolationState[];
  onChange(listener: () => void): () => void;
}

/**
 * The isolation of the PDP `cordon run` opened: its store is read again at each poll, and an
 * isolation its own decisions apply (the egress proxy's, by a policy outcome or a risk tier) is
 * heard at once.
 */
export const serviceSource = (svc: IsolationServiceView): IsolationSource => ({
  store: {
    active: async () => {
      await svc.refresh(); // a store it cannot read leaves the last states (fail closed)
      return svc.list();
    },
  },
  subscribe: (f) => svc.onChange(() => f()),
});

/** Several sources as one: the states of all of them; any that cannot be read fails the read. */
export function combinedSource(...sources: IsolationSource[]): IsolationSource {
  return {
    store: {
      active: async (now) => (await Promise.all(sources.map((s) => s.store.active(now)))).flat(),
    },
    subscribe: (f) => {
      const offs = sources.map((s) => s.subscribe?.(f));
      return () => offs.forEach((off) => off?.());
    },
    intervalMs: Math.min(...sources.map((s) => s.intervalMs ?? 250)),
  };
}

export interface IsolationWatch {
  /** Reads the store now and acts on a change (the polls call this). */
  poll(): Promise<void>;
  current(): SandboxIsolation | undefined;
  stop(): void;
}

/**
 * Watches the isolation store for one sandbox. `onChange` runs once per change, never two at
 * a time. A store that cannot be read keeps the last state read (fail closed: an isolation in
 * force stays in force) and is reported once until it reads again.
 */
export function watchIsolation(
  src: IsolationSource,
  agent: string,
  session: string | undefined,
  onChange: (now: SandboxIsolation | undefined, before: SandboxIsolation | undefined) => unknown,
  onError: (e: Error) => void,
  initial?: SandboxIsolation,
): IsolationWatch {
  let current = initial;
  let running: Promise<void> | undefined;
  let again = false;
  let failing = false;
  let stopped = false;
  const once = async () => {
    let next: SandboxIsolation | undefined;
    try {
      next = sandboxIsolation(await src.store.active(new Date()), agent, session);
      failing = false;
    } catch (e) {
      if (!failing)
        onError(new Error(`the isolation store cannot be read: ${(e as Error).message}`));
      failing = true;
      return;
    }
    if (stopped || sameIsolation(next, current)) return;
    const before = current;
    current = next;
    try {
      await onChange(next, before);
    } catch (e) {
      onError(e as Error);
    }
  };
  // One poll at a time; a poll asked for meanwhile runs right after (a bus message is not lost).
  const poll = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = once().finally(() => {
      running = undefined;
      if (again && !stopped) {
        again = false;
        void poll();
      }
    });
    return running;
  };
  const timer = setInterval(() => void poll(), src.intervalMs ?? 250);
  timer.unref();
  const unsubscribe = src.subscribe?.(() => void poll());
  return {
    poll,
    current: () => current,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      unsubscribe?.();
    },
  };
}

/** What a running sandbox is made of, for the actuator. */
export interface SandboxParts {
  /** The cgroup v2 mount and the sandbox's group (root with eBPF): kernel cut and kill. */
  mount?: string;
  cgroupDir?: string;
  /** Whether eBPF programs are attached to the group (their maps can change). */
  ebpf: boolean;
  /** The compiled allowlist (with the proxy's entry), restored on release. */
  allowlist: string[];
  /** The proxy's allowlist entry: kept while isolated, so the agent is told why it is refused. */
  proxyEntry?: string;
  proxy?: EgressProxy;
  /**
   * The `host:port` destinations the agent's baseline holds, for egress "baseline"; undefined
   * when there is none to compare with (learn mode, nothing learned): then no destination.
   */
  baseline?: () => Promise<string[] | undefined>;
  /** Changes the kernel allowlist (a kept `cordon-egress serve`); default: `setAllowlist`. */
  setAllowlist?: (entries: readonly string[]) => Promise<void>;
  /** Ends the sandbox's command when there is no group to kill (not root). */
  killCommand?: () => void;
  tool?: string;
}

/** What egress an isolation leaves: the kernel allowlist and the proxy's isolation. */
export interface EgressCut {
  allowlist: string[];
  proxy?: EgressIsolation;
}

/**
 * The egress an isolation leaves. "none": the proxy refuses everything, the kernel lets the agent
 * reach the proxy only (so it is told why). "baseline": the destinations the baseline holds stay,
 * at the proxy by name and in the kernel for addresses the compiled allowlist had; no baseline
 * to compare with (or one that cannot be read) is "none" (fail closed).
 */
export async function egressCut(
  parts: SandboxParts,
  iso: SandboxIsolation | undefined,
): Promise<EgressCut> {
  if (!iso?.egress) return { allowlist: parts.allowlist };
  const only = parts.proxyEntry ? [parts.proxyEntry] : [];
  let held: string[] | undefined;
  if (iso.egress === 'baseline') held = await parts.baseline?.().catch(() => undefined);
  if (!held?.length)
    return {
      allowlist: only,
      proxy: {
        reason:
          iso.egress === 'baseline'
            ? `${iso.reason} (no baseline to compare with, so no destination is allowed)`
            : iso.reason,
      },
    };
  const dests = new Set(held);
  const kernel: string[] = [];
  for (const d of held) {
    const m = /^(?:\[([0-9a-f:.]+)\]|([^:]+)):(\d+)$/i.exec(d);
    const host = m?.[1] ?? m?.[2];
    if (!host || !ipNet(host)) continue; // a name: the proxy's to allow
    const port = Number(m![3]);
    if (allowlistCovers(parts.allowlist, host, port))
      kernel.push(`${host.includes(':') ? 6 : 4},${host},${host.includes(':') ? 128 : 32},${port}`);
  }
  return {
    allowlist: [...only, ...kernel],
    proxy: {
      reason: `${iso.reason} (outside the baseline)`,
      allows: (host, port) => dests.has(destId(host, port)),
    },
  };
}

/**
 * Applies a change of isolation to a running sandbox. Returns what was done, one line each,
 * for the user. Throws when the kernel refused a step (the caller reports it).
 */
export async function applyIsolation(
  parts: SandboxParts,
  now: SandboxIsolation | undefined,
  before: SandboxIsolation | undefined,
): Promise<string[]> {
  const done: string[] = [];
  if (now?.full) {
    // Nothing left to cut once the processes are gone: kill first, it is the fastest way out.
    parts.proxy?.isolate({ reason: now.reason });
    if (parts.cgroupDir) {
      const n = await killGroup(parts.cgroupDir);
      done.push(`full isolation: ${n} process(es) of the sandbox killed (cgroup.kill)`);
    } else {
      parts.killCommand?.();
      done.push('full isolation: the command was killed (its children may outlive it: no cgroup)');
    }
    return done;
  }
  const cut = !!now?.egress;
  const wasCut = !!before?.egress;
  if (cut || wasCut) {
    const left = await egressCut(parts, now);
    // The proxy first: it changes at once, the kernel after a process spawn.
    const closed = parts.proxy?.isolate(left.proxy) ?? 0;
    const list = left.allowlist;
    if (parts.cgroupDir && parts.ebpf)
      await (parts.setAllowlist
        ? parts.setAllowlist(list)
        : setAllowlist(parts.cgroupDir, list, parts.tool));
    let ended = 0;
    if (cut && parts.cgroupDir && parts.mount)
      ended = await endConnections(parts.mount, parts.cgroupDir, (s) =>
        allowlistCovers(list, s.peer.addr, s.peer.port),
      );
    if (cut)
      done.push(
        `egress cut${left.proxy?.allows ? ' to the baseline' : ''}${parts.cgroupDir && parts.ebpf ? ` (eBPF allowlist: the proxy${list.length > 1 ? ` and ${list.length - 1} baseline address(es)` : ' only'})` : ' at the proxy only (no eBPF)'}: ${ended} connection(s) ended, ${closed} proxied connection(s) closed`,
      );
    else done.push('egress restored');
  }
  if (now?.readOnly && !before?.readOnly)
    done.push(
      'read-only: Landlock rules cannot be narrowed from outside a running process; this sandbox keeps its file rules (a new `cordon run` starts read-only), the gateways refuse writes',
    );
  return done;
}
