// npm run bench (part 4): the kernel layer. What enforcement adds to open() and connect()
// (a C loop in the sandboxed child, native/bench/syscalls.c, µs per call, with and without
// the rules), and how long the launcher takes to start a program (Landlock only, and with the
// cgroup eBPF programs loaded and attached).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, rmdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgentGroup, findCgroup2Mount, removeAgentGroup } from '../kernel/cgroup.js';
import { BPF_OBJECT, LAUNCHER } from '../kernel/run.js';
import { interpreterOf, RUNTIME_READ } from '../kernel/launch.js';
import { tempDir } from '../testing/fixtures.js';

const quick = process.argv.includes('--quick');
const N_OPEN = quick ? 20_000 : 200_000;
const N_UDP = quick ? 20_000 : 200_000;
const N_TCP = quick ? 2_000 : 10_000;
const RUNS = quick ? 3 : 7;
const STARTS = quick ? 20 : 100;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f1 = (n: number) => n.toFixed(2);

let groups = 0;

/** One run; `@GROUP` in the prefix becomes a fresh cgroup (as each `cordon run` gets). */
function once(prefix: string[], bin: string, args: string[]): number {
  const mount = findCgroup2Mount();
  const group =
    prefix.includes('@GROUP') && mount
      ? join(mount, 'cordon', `bench-${process.pid}-${groups++}`)
      : undefined;
  if (group) mkdirSync(group, { recursive: true });
  try {
    const p = prefix.map((a) => (a === '@GROUP' ? group! : a));
    const argv = p.length ? [...p, '--', bin, ...args] : [bin, ...args];
    return Number(execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).trim()) / 1000;
  } finally {
    try {
      if (group) rmdirSync(group);
    } catch {
      // a straggler keeps it busy: left in place
    }
  }
}

/** Medians without and with enforcement, the two runs interleaved so drift hits both alike. */
function pair(prefix: string[], bin: string, args: string[]): [number, number] {
  const none: number[] = [];
  const enforced: number[] = [];
  once([], bin, args); // warm-up
  for (let i = 0; i < RUNS; i++) {
    none.push(once([], bin, args));
    enforced.push(once(prefix, bin, args));
  }
  return [median(none), median(enforced)];
}

function startup(argv: string[]): number {
  const xs: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1));
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    xs.push((performance.now() - t0) * 1000);
  }
  return median(xs);
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
  // The server runs in its own process: the loops below block this one.
  const server = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('net').createServer((c) => { c.on('error', () => {}); c.end(); }).listen(0, '127.0.0.1', 4096, () => console.log(s.address().port));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) =>
    server.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
  );

  const interp = await interpreterOf(bin);
  const runtime = [
    ...RUNTIME_READ.flatMap((p) => ['--allow', `r:${p}`]),
    ...(interp ? ['--allow', `x:${interp}`] : []),
    '--allow',
    `x:${realpathSync('/bin/true')}`,
  ];
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

  // open(): Landlock checks the path walk against the rules.
  const [openNone, openLl] = pair(landlock, bin, ['open', file, String(N_OPEN)]);
  rows.push(
    `| open()+close(), 5 levels below the rule (µs) | ${f1(openNone)} | ${f1(openLl)} | ${f1(openLl - openNone)} |`,
  );

  // connect(): Landlock TCP port rules; with root, the cgroup eBPF allowlist too.
  const [tcpNone, tcpLl] = pair(landlock, bin, ['tcp', String(port), String(N_TCP)]);
  rows.push(
    `| TCP connect()+close() to loopback, Landlock port rule (µs) | ${f1(tcpNone)} | ${f1(tcpLl)} | ${f1(tcpLl - tcpNone)} |`,
  );
  const mount = findCgroup2Mount();
  const ebpf =
    process.getuid?.() === 0 && mount && spawnSync('test', ['-r', BPF_OBJECT]).status === 0;
  let startBpf: number | undefined;
  if (ebpf) {
    const group = '@GROUP';
    {
      const withBpf = [
        ...landlock,
        '--cgroup',
        group,
        '--bpf',
        BPF_OBJECT,
        '--net',
        `4,127.0.0.1,32,${port}`,
      ];
      const [udpNone, udpBpf] = pair(
        [
          LAUNCHER,
          '--no-fs',
          '--cgroup',
          group,
          '--bpf',
          BPF_OBJECT,
          '--net',
          `4,127.0.0.1,32,${port}`,
        ],
        bin,
        ['udp', String(port), String(N_UDP)],
      );
      rows.push(
        `| UDP connect()+close(), eBPF connect4 allowlist (µs) | ${f1(udpNone)} | ${f1(udpBpf)} | ${f1(udpBpf - udpNone)} |`,
      );
      const [tcpNone2, tcpBoth] = pair(withBpf, bin, ['tcp', String(port), String(N_TCP)]);
      rows.push(
        `| TCP connect()+close(), Landlock + eBPF (µs) | ${f1(tcpNone2)} | ${f1(tcpBoth)} | ${f1(tcpBoth - tcpNone2)} |`,
      );
      // Each launch gets its own group (as cordon run does): at most 64 programs attach to one.
      const xs: number[] = [];
      for (let i = 0; i < STARTS; i++) {
        const g = await createAgentGroup(mount, `start-${process.pid}-${i}`);
        const argv = [...withBpf.map((a) => (a === group ? g : a)), '--', '/bin/true'];
        const t0 = performance.now();
        const r = spawnSync(argv[0]!, argv.slice(1));
        xs.push((performance.now() - t0) * 1000);
        await removeAgentGroup(g);
        if (r.status !== 0) throw new Error(`launcher: ${r.stderr}`);
      }
      startBpf = median(xs);
    }
  } else {
    rows.push('| eBPF rows | skipped: needs root, cgroup v2 and the built BPF object | | |');
  }
  server.kill();

  const startNone = startup(['/bin/true']);
  const startLl = startup([...landlock, '--', '/bin/true']);
  rows.push(
    `| start /bin/true, launcher with Landlock (µs) | ${f1(startNone)} | ${f1(startLl)} | ${f1(startLl - startNone)} |`,
  );
  if (startBpf !== undefined)
    rows.push(
      `| start /bin/true, launcher with Landlock + eBPF load/attach (µs) | ${f1(startNone)} | ${f1(startBpf)} | ${f1(startBpf - startNone)} |`,
    );

  console.log(
    `\nKernel enforcement (${quick ? 'quick' : 'full'}: medians of ${RUNS} runs; ${STARTS} starts)\n`,
  );
  console.log(rows.join('\n'));
  await rm(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
