// npm run bench (part 4): the kernel layer. What enforcement adds to open() and connect()
// (a C loop in the sandboxed child, native/bench/syscalls.c, µs per call, with and without
// the rules), how long the launcher takes to start a program (Landlock only, and with the
// cgroup eBPF programs loaded and attached), and how long an isolation takes to cut a running
// `cordon run` agent's egress (from the isolation request to the first refused connect).

import { execFileSync, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgentGroup, findCgroup2Mount, removeAgentGroup } from '../kernel/cgroup.js';
import { BPF_OBJECT, LAUNCHER } from '../kernel/run.js';
import { interpreterOf, RUNTIME_READ } from '../kernel/launch.js';
import { agent, entities, tempDir, writeTree } from '../testing/fixtures.js';
import { configSchema } from '../config/config.js';
import { loadPolicyDir } from '../policy/load.js';
import { startServer } from '../runtime/start.js';
import { readAdminCredential } from '../identity/credentials.js';
import { openPdp } from '../runtime/pdp.js';
import { runSandboxed } from '../kernel/run.js';
import { combinedSource, serviceSource } from '../sandbox/isolation.js';
import { followSource } from '../cli/kernel-lib.js';
import { AGENT, controlAt, heldUpstream, liveEgressMissing } from '../testing/sandbox-agent.js';
import { pino } from 'pino';
import { startHelper } from './helpers.js';
import { median, percentile } from './stats.js';

const quick = process.argv.includes('--quick');
const N_OPEN = quick ? 20_000 : 200_000;
const N_UDP = quick ? 20_000 : 200_000;
const N_TCP = quick ? 2_000 : 10_000;
const RUNS = quick ? 3 : 7;
const STARTS = quick ? 20 : 100;

const f1 = (n: number) => n.toFixed(2);

/** In a launcher command line, the place of a fresh cgroup. */
const GROUP = '@GROUP';
const mount = findCgroup2Mount();
let groups = 0;

/**
 * `fn` on `argv` with `@GROUP` made a fresh cgroup (as each `cordon run` gets: at most 64
 * programs attach to one group), removed after (a group a straggler keeps busy is left).
 */
async function inGroup<T>(argv: string[], fn: (argv: string[]) => T): Promise<T> {
  if (!argv.includes(GROUP) || !mount) return fn(argv);
  const group = await createAgentGroup(mount, `bench-${process.pid}-${groups++}`);
  try {
    return fn(argv.map((a) => (a === GROUP ? group : a)));
  } finally {
    await removeAgentGroup(group);
  }
}

/** One run of the C loop, µs per call, behind the launcher `prefix` (none if empty). */
async function once(prefix: string[], bin: string, args: string[]): Promise<number> {
  const argv = prefix.length ? [...prefix, '--', bin, ...args] : [bin, ...args];
  return inGroup(
    argv,
    (a) => Number(execFileSync(a[0]!, a.slice(1), { encoding: 'utf8' }).trim()) / 1000,
  );
}

/** Medians without and with enforcement, the two runs interleaved so drift hits both alike. */
async function pair(prefix: string[], bin: string, args: string[]): Promise<[number, number]> {
  const none: number[] = [];
  const enforced: number[] = [];
  await once([], bin, args); // warm-up
  for (let i = 0; i < RUNS; i++) {
    none.push(await once([], bin, args));
    enforced.push(await once(prefix, bin, args));
  }
  return [median(none), median(enforced)];
}

/** Median start-up time (µs) of each command line, one start of each in turn (round-robin). */
async function startups(argvs: string[][]): Promise<number[]> {
  const xs = argvs.map(() => [] as number[]);
  for (let i = 0; i < STARTS; i++)
    for (const [k, argv] of argvs.entries())
      xs[k]!.push(
        await inGroup(argv, (a) => {
          const t0 = performance.now();
          const r = spawnSync(a[0]!, a.slice(1));
          const us = (performance.now() - t0) * 1000;
          if (r.status !== 0) throw new Error(`${a.join(' ')}: ${r.stderr}`);
          return us;
        }),
      );
  return xs.map(median);
}

async function main() {
  const rows = ['| measure | none | enforced | added |', '|---|---:|---:|---:|'];
  const probe = spawnSync(LAUNCHER, ['--allow', 'rx:/', '--', '/bin/true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(
      `kernel bench skipped: Landlock unavailable (${probe.stderr || probe.error?.message})`,
    );
    return;
  }
  const dir = await tempDir('cordon-kernel-bench-');
  try {
    await measure(dir, rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    `\nKernel enforcement (${quick ? 'quick' : 'full'}: medians of ${RUNS} runs; ${STARTS} starts)\n`,
  );
  console.log(rows.join('\n'));
  await isolationLatency();
}

/**
 * An isolation request (POST /v1/isolation on a `cordon serve`) until the running sandbox's
 * next direct connect is refused (EPERM), probed every 2 ms; the sandbox follows the server as
 * `cordon run --follow` does. Released between runs.
 */
async function isolationLatency() {
  const missing = liveEgressMissing();
  if (missing) {
    console.log(`\nisolation latency skipped: ${missing}`);
    return;
  }
  const dir = await tempDir('cordon-isolation-bench-');
  const up = await heldUpstream();
  await writeTree(join(dir, 'policies'), {
    'p.cedar': `
      permit(principal, action == Action::"connectNetwork", resource) when { ip(resource.host).isInRange(ip("127.0.0.1/32")) };
      permit(principal in Role::"cordon-admin", action in [Action::"isolate", Action::"readIsolation"], resource);`,
    'entities.json': entities([agent('bot', [], { risk_level: 'low' })]),
  });
  const policies = join(dir, 'policies');
  const silent = pino({ level: 'silent' });
  const server = await startServer(
    configSchema.parse({ policies, data: join(dir, 'serve'), port: 0, watch: false }),
    silent,
  );
  const pdp = await openPdp(
    configSchema.parse({ policies, data: join(dir, 'run'), watch: false }),
    silent,
  );
  const url = `http://127.0.0.1:${server.port}`;
  const ctl = await controlAt(join(dir, 'ctl.sock'));
  const set = await loadPolicyDir(policies);
  if (!set.ok) throw new Error('bench policies do not compile');
  const running = runSandboxed({
    agent: 'bot',
    set: set.set,
    pdp,
    command: [process.execPath, '-e', AGENT],
    env: { ...process.env, CTL: join(dir, 'ctl.sock') },
    bestEffort: false,
    stdio: ['ignore', 'ignore', 'inherit'],
    say: () => {},
    isolation: combinedSource(
      serviceSource(pdp.isolation),
      followSource({ url, data: join(dir, 'serve') }, 'bot'),
    ),
  });
  const admin = `Bearer ${await readAdminCredential(join(dir, 'serve'))}`;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  };
  const connect = `connect 127.0.0.1 ${up.port}`;
  const times: number[] = [];
  try {
    if ((await ctl.until(connect, /^ok$/)) !== 'ok') throw new Error('the sandbox cannot connect');
    for (let i = 0; i < (quick ? 5 : 20); i++) {
      const t0 = performance.now();
      await post('/v1/isolation', { agent: 'bot', measures: { egress: 'none' }, reason: 'bench' });
      if ((await ctl.until(connect, /^EPERM$/, 2)) !== 'EPERM') throw new Error('not refused');
      times.push(performance.now() - t0);
      await post('/v1/isolation/release', { agent: 'bot' });
      await ctl.until(connect, /^ok$/);
    }
    await post('/v1/isolation', { agent: 'bot', measures: { full: true }, reason: 'bench over' });
    await running;
  } finally {
    ctl.close();
    up.close();
    await pdp.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`\nIsolation of a running cordon run (${times.length} runs, --follow long poll)\n`);
  console.log('| measure | p50 | p90 | max |\n|---|---:|---:|---:|');
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  console.log(
    `| isolation request → first refused connect (EPERM) | ${ms(median(times))} | ${ms(percentile(times, 0.9))} | ${ms(Math.max(...times))} |`,
  );
}

async function measure(dir: string, rows: string[]) {
  const bin = join(dir, 'syscalls');
  execFileSync('cc', [
    '-O2',
    '-o',
    bin,
    fileURLToPath(new URL('../../native/bench/syscalls.c', import.meta.url)),
  ]);
  const deep = join(dir, 'a', 'b', 'c', 'd');
  await mkdir(deep, { recursive: true });
  const file = join(deep, 'data.txt');
  await writeFile(file, 'x');
  const interp = await interpreterOf(bin);
  const runtime = [
    ...RUNTIME_READ.flatMap((p) => ['--allow', `r:${p}`]),
    ...(interp ? ['--allow', `x:${interp}`] : []),
    '--allow',
    `x:${realpathSync('/bin/true')}`,
  ];

  // The server runs in its own process: the loops below block this one.
  const server = await startHelper([
    '-e',
    "const s = require('net').createServer((c) => { c.on('error', () => {}); c.end(); }).listen(0, '127.0.0.1', 4096, () => console.log(s.address().port));",
  ]);
  const port = Number(server.line);
  const landlock = [
    LAUNCHER,
    ...runtime,
    '--allow',
    `x:${bin}`,
    '--allow',
    `r:${dir}`,
    '--connect-port',
    String(port),
  ];
  // The eBPF allowlist: loaded into a fresh cgroup, loopback:port allowed.
  const bpf = ['--cgroup', GROUP, '--bpf', BPF_OBJECT, '--net', `4,127.0.0.1,32,${port}`];
  const withBpf = [...landlock, ...bpf];
  const ebpf =
    process.getuid?.() === 0 && mount && spawnSync('test', ['-r', BPF_OBJECT]).status === 0;
  try {
    // open(): Landlock checks the path walk against the rules.
    const [openNone, openLl] = await pair(landlock, bin, ['open', file, String(N_OPEN)]);
    rows.push(
      `| open()+close(), 5 levels below the rule (µs) | ${f1(openNone)} | ${f1(openLl)} | ${f1(openLl - openNone)} |`,
    );

    // connect(): Landlock TCP port rules; with root, the cgroup eBPF allowlist too.
    const [tcpNone, tcpLl] = await pair(landlock, bin, ['tcp', String(port), String(N_TCP)]);
    rows.push(
      `| TCP connect()+close() to loopback, Landlock port rule (µs) | ${f1(tcpNone)} | ${f1(tcpLl)} | ${f1(tcpLl - tcpNone)} |`,
    );
    if (ebpf) {
      const [udpNone, udpBpf] = await pair([LAUNCHER, '--no-fs', ...bpf], bin, [
        'udp',
        String(port),
        String(N_UDP),
      ]);
      rows.push(
        `| UDP connect()+close(), eBPF connect4 allowlist (µs) | ${f1(udpNone)} | ${f1(udpBpf)} | ${f1(udpBpf - udpNone)} |`,
      );
      const [tcpNone2, tcpBoth] = await pair(withBpf, bin, ['tcp', String(port), String(N_TCP)]);
      rows.push(
        `| TCP connect()+close(), Landlock + eBPF (µs) | ${f1(tcpNone2)} | ${f1(tcpBoth)} | ${f1(tcpBoth - tcpNone2)} |`,
      );
    } else {
      rows.push('| eBPF rows | skipped: needs root, cgroup v2 and the built BPF object | | |');
    }
  } finally {
    await server.stop();
  }

  // Start-up: /bin/true directly, through the launcher with Landlock, and with Landlock + eBPF
  // load/attach (each launch in its own group), one start of each in turn.
  const [startNone, startLl, startBpf] = await startups([
    ['/bin/true'],
    [...landlock, '--', '/bin/true'],
    ...(ebpf ? [[...withBpf, '--', '/bin/true']] : []),
  ]);
  rows.push(
    `| start /bin/true, launcher with Landlock (µs) | ${f1(startNone!)} | ${f1(startLl!)} | ${f1(startLl! - startNone!)} |`,
  );
  if (startBpf !== undefined)
    rows.push(
      `| start /bin/true, launcher with Landlock + eBPF load/attach (µs) | ${f1(startNone!)} | ${f1(startBpf)} | ${f1(startBpf - startNone!)} |`,
    );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
