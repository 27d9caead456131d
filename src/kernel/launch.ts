// From the enforcement plan to the launcher's command line (an adapter: it looks at the file
// system). Path patterns are expanded to what exists at launch; the command itself, its ELF
// interpreter and the system libraries are added as launcher allowances, listed separately,
// because no program starts without them and they are not the agent's actions.

import { constants } from 'node:fs';
import { access, open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { Enforcement, Mode } from './enforcement.js';
import { ipNet } from './sets.js';

/** The command cannot be launched as given (not found). */
export class LaunchError extends Error {}

export interface Allowance {
  mode: string;
  path: string;
  why: string;
}

export interface LaunchSpec {
  /** Launcher options (before `--`). */
  options: string[];
  /** The command as executed: its first element is an absolute path. */
  command: string[];
  /** The policy's path rules as they were found on disk. */
  paths: { mode: Mode; pattern: string; matched: string[] }[];
  /** What the launcher allows beyond the policies so the program can start. */
  runtime: Allowance[];
  notes: string[];
}

/** Read-only system paths every dynamically linked program needs (missing ones are skipped). */
export const RUNTIME_READ = [
  '/usr/lib',
  '/usr/lib64',
  '/lib',
  '/lib64',
  '/etc/ld.so.cache',
  '/etc/ssl',
  '/etc/localtime',
  '/usr/share/zoneinfo',
  '/dev/urandom',
  '/proc/cpuinfo',
  '/proc/meminfo',
  '/proc/stat',
];
const RUNTIME_WRITE = ['/dev/null'];

const exists = async (p: string) =>
  access(p, constants.F_OK).then(
    () => true,
    () => false,
  );

/** Resolves a command name through PATH, like execvp. */
async function resolveCommand(cmd: string, path = process.env.PATH ?? ''): Promise<string> {
  if (cmd.includes('/')) return isAbsolute(cmd) ? cmd : join(process.cwd(), cmd);
  for (const dir of path.split(':').filter(Boolean)) {
    const p = join(dir, cmd);
    try {
      const s = await stat(p);
      if (s.isFile()) {
        await access(p, constants.X_OK);
        return p;
      }
    } catch {
      // next
    }
  }
  throw new LaunchError(`${cmd}: command not found`);
}

/** The ELF program interpreter (PT_INTERP) of a 64-bit binary, or a script's #! interpreter. */
export async function interpreterOf(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(256);
    const { bytesRead } = await fh.read(head, 0, 256, 0);
    if (bytesRead >= 2 && head[0] === 0x23 && head[1] === 0x21) {
      const line = head.subarray(2, bytesRead).toString('latin1').split('\n')[0]!.trim();
      return line.split(/\s+/)[0] || undefined;
    }
    if (bytesRead < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return undefined;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = u64(head, 32);
    const phentsize = u16(head, 54);
    const phnum = u16(head, 56);
    const ph = Buffer.alloc(phentsize);
    for (let i = 0; i < phnum; i++) {
      await fh.read(ph, 0, phentsize, phoff + i * phentsize);
      if (u32(ph, 0) !== 3) continue; // PT_INTERP
      const off = u64(ph, 8);
      const size = u64(ph, 32);
      const buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, off);
      return buf.toString('latin1').replace(/\0.*$/s, '');
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/** The interpreter of a file and, for `#!`, its first argument. */
async function shebangOrInterp(file: string): Promise<[string, string | undefined] | undefined> {
  const fh = await open(file, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(256);
    const { bytesRead } = await fh.read(buf, 0, 256, 0);
    head = buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
  if (head.startsWith('#!')) {
    const [interp, arg] = head.slice(2).split('\n')[0]!.trim().split(/\s+/);
    return interp ? [interp, arg] : undefined;
  }
  const interp = await interpreterOf(file);
  return interp ? [interp, undefined] : undefined;
}

const isDirectory = (p: string) =>
  stat(p).then(
    (st) => st.isDirectory(),
    () => false,
  );

/** Existing paths a Cedar path item covers: a prefix `"/a/b-"` matches `/a/b-*` entries. */
async function expandItem(item: { kind: 'prefix' | 'exact'; s: string }): Promise<string[]> {
  if (item.kind === 'exact' || item.s === '/') return (await exists(item.s)) ? [item.s] : [];
  if (item.s.endsWith('/')) {
    const dir = item.s.replace(/\/+$/, '') || '/';
    return (await exists(dir)) ? [dir] : [];
  }
  const dir = dirname(item.s);
  const base = basename(item.s);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(base))
    .sort()
    .map((n) => join(dir, n));
}

export interface LaunchOptions {
  command: string[];
  /** Loopback port of the egress proxy, when host names go through one. */
  proxyPort?: number;
  /** cgroup v2 group and BPF object, when the eBPF allowlist is used. */
  cgroupDir?: string;
  bpfObject?: string;
  /** The eBPF allowlist to start with (default: the compiled one, `allowlistOf`). */
  allowlist?: string[];
  bestEffort: boolean;
  /** Add the launcher allowances (system libraries, the command). Default true. */
  runtime?: boolean;
}

/** The launcher's `--net` entries for the eBPF allowlist (FAMILY,ADDR,PREFIX,PORT; port 0: any). */
export function allowlistOf(enf: Enforcement, proxyPort?: number): string[] {
  if (!enf.net.restricted) return ['4,0.0.0.0,0,0', '6,::,0,0'];
  const out: string[] = [];
  for (const r of enf.net.ip) {
    // Only ranges Cedar reads get here: a policy with any other errors in Cedar itself and
    // stays at the gateway (compiler.test).
    const c = ipNet(r.cidr)!;
    const addr = r.cidr.split('/')[0]!;
    out.push(`${c.v6 ? 6 : 4},${addr},${c.prefix},${r.port ?? 0}`);
  }
  if (proxyPort !== undefined) out.push(proxyEntry(proxyPort));
  return out;
}

/** The allowlist entry that lets the agent reach the egress proxy on loopback. */
export const proxyEntry = (port: number) => `4,127.0.0.1,32,${port}`;

export async function buildLaunch(enf: Enforcement, o: LaunchOptions): Promise<LaunchSpec> {
  const [cmd, ...args] = o.command;
  if (!cmd) throw new LaunchError('no command to run');
  const command = [await resolveCommand(cmd), ...args];
  const options: string[] = [];
  const notes: string[] = [];
  const runtime: Allowance[] = [];
  const paths: LaunchSpec['paths'] = [];

  if (enf.fsRestricted) {
    for (const r of enf.paths) {
      let matched = await expandItem(r.item);
      const existed = matched.length > 0;
      if (r.item.kind === 'exact') {
        // Landlock grants a directory with everything beneath it: an exact path that is a
        // directory would open its whole tree. Not granted (narrower, never wider).
        const dir = matched[0] !== undefined && (await isDirectory(matched[0]));
        if (dir) {
          notes.push(
            `${r.from} "${r.item.s}": an exact path that is a directory; Landlock can only grant it with everything beneath, so it is not granted`,
          );
          matched = [];
        }
      }
      paths.push({
        mode: r.mode,
        pattern: `${r.item.s}${r.item.kind === 'prefix' ? '*' : ''}`,
        matched,
      });
      for (const m of matched) options.push('--allow', `${r.mode}:${m}`);
      if (r.item.kind === 'prefix' && !r.item.s.endsWith('/') && r.item.s !== '/')
        notes.push(
          `${r.from} "${r.item.s}*": granted on the ${matched.length} entries that exist at ` +
            `launch; a new "${basename(r.item.s)}…" entry in ${dirname(r.item.s)} cannot be created ` +
            '(under-approximation)',
        );
      if (!existed)
        notes.push(
          `${r.from} "${r.item.s}${r.item.kind === 'prefix' ? '*' : ''}": nothing exists there at launch`,
        );
    }
    if (o.runtime !== false) {
      for (const p of RUNTIME_READ)
        if (await exists(p)) runtime.push({ mode: 'r', path: p, why: 'system libraries and data' });
      for (const p of RUNTIME_WRITE)
        if (await exists(p)) runtime.push({ mode: 'rw', path: p, why: 'the null device' });
      const real = await realpath(command[0]!);
      runtime.push({ mode: 'x', path: real, why: 'the command' });
      // Follow the chain: ELF loader, `#!` interpreter, `#!/usr/bin/env NAME` (a few hops).
      let current = real;
      for (let hop = 0; hop < 4; hop++) {
        const line = await shebangOrInterp(current).catch(() => undefined);
        if (!line) break;
        const [interp, arg] = line;
        runtime.push({
          mode: 'x',
          path: interp,
          why: hop === 0 ? 'its interpreter' : 'the interpreter chain',
        });
        let next = await realpath(interp);
        if (basename(interp) === 'env' && arg && !arg.startsWith('-')) {
          next = await realpath(await resolveCommand(arg));
          runtime.push({ mode: 'x', path: next, why: `${arg}, run by env` });
        }
        current = next;
      }
      for (const a of runtime) options.push('--allow', `${a.mode}:${a.path}`);
    }
  } else {
    options.push('--no-fs');
  }

  const net = enf.net;
  if (net.restricted) {
    const ports = new Set<number>();
    for (const r of net.ip) if (r.port !== undefined) ports.add(r.port);
    if (o.proxyPort !== undefined) ports.add(o.proxyPort);
    if (net.portsRestrictable) {
      if (ports.size === 0) options.push('--deny-connect');
      for (const p of [...ports].sort((a, b) => a - b)) options.push('--connect-port', String(p));
    }
    if (o.cgroupDir) {
      options.push('--cgroup', o.cgroupDir);
      if (o.bpfObject) {
        options.push('--bpf', o.bpfObject);
        for (const e of o.allowlist ?? allowlistOf(enf, o.proxyPort)) options.push('--net', e);
      }
    }
  } else if (o.cgroupDir) {
    // Every destination is allowed, but the group and its programs are there anyway: an
    // isolation can then cut this agent's egress while it runs (sandbox/live-egress.ts).
    options.push('--cgroup', o.cgroupDir);
    if (o.bpfObject) {
      options.push('--bpf', o.bpfObject);
      for (const e of o.allowlist ?? allowlistOf(enf, o.proxyPort)) options.push('--net', e);
    }
  }
  if (o.bestEffort) options.push('--best-effort');
  return { options, command, paths, runtime, notes };
}
