// Changes what an agent already running under `cordon run` can do, from outside it, in place:
// its eBPF egress allowlist (the loaded maps, through native/cordon-egress), its open TCP and
// UDP sockets (ended through the kernel's socket-destroy, `ss -K` with a cgroup filter), and its
// processes (cgroup.kill). Nothing is restarted and no program is reloaded: the next connect()
// of every process in the group sees the new list.

import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inRange } from '../core/compiled/extensions.js';
import { ipNet } from '../core/destination.js';

const run = promisify(execFile);

export const EGRESS_TOOL = fileURLToPath(
  new URL('../../native/build/cordon-egress', import.meta.url),
);

export class LiveEgressError extends Error {}

/** What failed, in one line (the tool's own message when it printed one). */
function failure(what: string, e: unknown): LiveEgressError {
  const x = e as { stderr?: string; message?: string; code?: string | number };
  const said = x.stderr?.trim().split('\n').pop();
  return new LiveEgressError(`${what}: ${said || x.message || String(e)}`);
}

/**
 * Replaces the allowlist of the programs attached to `cgroupDir` with `entries`
 * (FAMILY,ADDR,PREFIX,PORT, as the launcher's --net). An empty list allows nothing.
 */
export async function setAllowlist(
  cgroupDir: string,
  entries: readonly string[],
  tool = EGRESS_TOOL,
): Promise<void> {
  // Right after the launch the launcher may not have attached its programs yet (exit 3): the
  // change waits for them, briefly, rather than being lost.
  for (let attempt = 0; ; attempt++) {
    try {
      await run(tool, ['set', cgroupDir, ...entries]);
      return;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 3 || attempt >= 20)
        throw failure(`cannot change the egress allowlist of ${cgroupDir}`, e);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * A `cordon-egress serve` kept running beside one sandbox: each change is a line to it, not a
 * process start (which takes 100 ms and more on a loaded machine, most of the cut's latency).
 * If it is gone, a change falls back to a one-shot `cordon-egress set`.
 */
/** What `cordon-egress serve`'s status lines mean (its exit codes). */
const SERVE_STATUS: Record<number, string> = {
  2: 'an entry is malformed',
  3: 'no Cordon egress programs are attached',
  4: 'the kernel refused a map update',
};

export class AllowlistServer {
  private child: ChildProcessWithoutNullStreams | undefined;
  private answers: ((code: number) => void)[] = [];
  private lastError = '';
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly cgroupDir: string,
    readonly tool = EGRESS_TOOL,
  ) {}

  /** Starts the helper (it finds the maps at its first change, once the launcher attached them). */
  start(): this {
    const child = spawn(this.tool, ['serve', this.cgroupDir], { stdio: 'pipe' });
    this.child = child;
    createInterface({ input: child.stdout }).on('line', (l) => this.answers.shift()?.(Number(l)));
    createInterface({ input: child.stderr }).on('line', (l) => (this.lastError = l));
    const gone = () => {
      if (this.child === child) this.child = undefined;
      for (const a of this.answers.splice(0)) a(-1);
    };
    child.once('exit', gone);
    child.once('error', gone);
    child.stdin.on('error', () => {}); // a helper that died: seen as its exit
    return this;
  }

  private send(entries: readonly string[]): Promise<number> {
    const child = this.child;
    if (!child) return Promise.resolve(-1);
    return new Promise((resolve) => {
      this.answers.push(resolve);
      child.stdin.write(`${entries.join(' ')}\n`);
    });
  }

  /** As `setAllowlist`, one change at a time, in order. */
  set(entries: readonly string[]): Promise<void> {
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        const code = await this.send(entries);
        if (code === 0) return;
        if (code === -1) return setAllowlist(this.cgroupDir, entries, this.tool);
        // 3: the launcher has not attached its programs yet; wait for them, briefly.
        if (code !== 3 || attempt >= 20)
          throw new LiveEgressError(
            `cannot change the egress allowlist of ${this.cgroupDir}: ${SERVE_STATUS[code] ?? `status ${code}`}${this.lastError ? ` (${this.lastError})` : ''}`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }
}

/** The allowlist as the kernel holds it now. */
export async function listAllowlist(cgroupDir: string, tool = EGRESS_TOOL): Promise<string[]> {
  try {
    const { stdout } = await run(tool, ['list', cgroupDir]);
    return stdout.split('\n').filter(Boolean);
  } catch (e) {
    throw failure(`cannot read the egress allowlist of ${cgroupDir}`, e);
  }
}

export interface OpenSocket {
  proto: 'tcp' | 'udp';
  local: { addr: string; port: number };
  peer: { addr: string; port: number };
}

/** `1.2.3.4:80`, `[::1]:80`, `*:*` (ss -n) → parts; undefined for a wildcard. */
function endpoint(s: string): { addr: string; port: number } | undefined {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  let addr = s.slice(0, i).replace(/^\[|\]$/g, '');
  addr = addr.replace(/%.*$/, ''); // an interface scope
  if (!Number.isInteger(port) || addr === '*') return undefined;
  return { addr: addr.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1'), port };
}

/** The group's path as `ss` filters it: relative to the cgroup v2 mount, with a leading slash. */
const ssPath = (mount: string, cgroupDir: string) => `/${relative(mount, cgroupDir)}`;

/** The connected TCP and UDP sockets created by processes of the group. */
export async function openSockets(mount: string, cgroupDir: string): Promise<OpenSocket[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ss', ['-tunH', 'cgroup', ssPath(mount, cgroupDir)]));
  } catch (e) {
    throw failure('cannot list the sandbox connections (ss, from iproute2)', e);
  }
  const out: OpenSocket[] = [];
  for (const line of stdout.split('\n')) {
    // Netid State Recv-Q Send-Q Local Peer
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const local = endpoint(f[4]!);
    const peer = endpoint(f[5]!);
    if (!local || !peer) continue;
    out.push({ proto: f[0] === 'udp' ? 'udp' : 'tcp', local, peer });
  }
  return out;
}

/** Whether `addr:port` is covered by an allowlist entry (FAMILY,ADDR,PREFIX,PORT). */
export function allowlistCovers(entries: readonly string[], addr: string, port: number): boolean {
  const target = ipNet(addr.includes(':') ? `${addr}/128` : `${addr}/32`);
  if (!target) return false;
  return entries.some((e) => {
    const [, a, p, ep] = e.split(',');
    if (Number(ep) !== 0 && Number(ep) !== port) return false;
    const net = ipNet(`${a}/${p}`);
    return !!net && net.v6 === target.v6 && inRange(target, net);
  });
}

/**
 * Ends the group's connected sockets whose peer `keep` does not accept (all of them without
 * `keep`), through the kernel's socket destroy (`ss -K`): the agent's next read or write on
 * them fails with ECONNABORTED. Returns how many were ended.
 */
export async function endConnections(
  mount: string,
  cgroupDir: string,
  keep?: (s: OpenSocket) => boolean,
): Promise<number> {
  const path = ssPath(mount, cgroupDir);
  const doomed = (await openSockets(mount, cgroupDir)).filter((s) => !keep?.(s));
  if (doomed.length === 0) return 0;
  try {
    if (!keep) {
      await run('ss', ['-KtunH', 'cgroup', path]);
    } else {
      for (const s of doomed)
        await run('ss', [
          '-KtunH',
          'cgroup',
          path,
          'dst',
          s.peer.addr,
          'dport',
          '=',
          String(s.peer.port),
          'sport',
          '=',
          String(s.local.port),
        ]);
    }
  } catch (e) {
    throw failure('cannot end the sandbox connections (ss -K, needs CONFIG_INET_DIAG_DESTROY)', e);
  }
  return doomed.length;
}

/**
 * Ends every process of the group at once (cgroup v2 `cgroup.kill`, Linux 5.14); on an older
 * kernel each listed process gets SIGKILL (one that forks meanwhile can escape: said in the
 * docs). Returns how many processes were in the group.
 */
export async function killGroup(cgroupDir: string): Promise<number> {
  const procs = async () =>
    (await readFile(`${cgroupDir}/cgroup.procs`, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map(Number);
  const before = await procs();
  try {
    await writeFile(`${cgroupDir}/cgroup.kill`, '1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw failure('cgroup.kill', e);
    for (const pid of before) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  return before.length;
}
