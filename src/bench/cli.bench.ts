// npm run bench (CLI part): how long a person waits for `cordon`. Each command is a fresh
// process, timed from spawn to exit (`serve`: to its "cordon serving" line, the API listening),
// in interleaved rounds beside `node -e 0` so load on the machine hits every row alike:
//
//   node -e 0                       Node's own start-up, the floor under every row
//   cordon --version, --help        the command tree alone
//   cordon decide (cache warm)      the examples and examples/requests/side-door.json, with the
//                                   compile cache primed by an earlier run
//   cordon serve until ready        the examples, a data directory (and its compile cache) used
//                                   before: keys, stores and the audit log exist
//
// Targets (issue 21, on an idle machine): --version/--help ≤ 0.15 s, decide ≤ 0.4 s warm, serve
// ready ≤ 0.8 s. Rows print the median and the minimum; the minimum is the closest a loaded
// machine gets to an idle one.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { tempDir } from '../testing/fixtures.js';
import { median } from './stats.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 10;
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../examples/policies', import.meta.url));
const REQUEST = fileURLToPath(new URL('../../examples/requests/side-door.json', import.meta.url));

interface Command {
  label: string;
  args: string[];
  /** A target in seconds (idle machine), when the issue set one. */
  target?: number;
  /** Ready when this appears on stdout; the process is then stopped. Else: at exit. */
  readyOn?: RegExp;
}

/**
 * Preloaded into every timed process: writes its CPU time (user and system, µs) to fd 3 at exit,
 * or when SIGTERM arrives (before the command's own handler: `serve` is stopped once ready).
 * On a loaded machine wall time is mostly waiting for a core; CPU time is what an idle one pays.
 */
const CPU_PRELOAD = `data:text/javascript,${encodeURIComponent(
  'import { writeSync } from "node:fs"; let done = false;' +
    'const w = () => { if (done) return; done = true; const u = process.cpuUsage();' +
    'try { writeSync(3, u.user + " " + u.system + "\\n"); } catch {} };' +
    'process.on("exit", w); process.prependListener("SIGTERM", w);',
)}`;

interface Sample {
  /** Seconds from spawn to exit (or to `readyOn`). */
  wall: number;
  /** CPU seconds the process used (user + system), to exit or to the stop signal. */
  cpu: number;
}

/** One run of the command; throws when it fails. */
function timed(c: Command, env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', CPU_PRELOAD, ...c.args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
    let out = '';
    let err = '';
    let cpuText = '';
    let ready: number | undefined;
    let exitWall = 0;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready === undefined && c.readyOn?.test(out)) {
        ready = elapsed();
        child.kill('SIGTERM');
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (cpuText += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      exitWall = elapsed();
      if (ready === undefined && code !== 0)
        reject(new Error(`${c.label} exited ${code}: ${err.trim().split('\n')[0] ?? ''}`));
    });
    child.on('close', () => {
      // A worker thread runs the preload too (it inherits the flags): the first line is the
      // main thread's report, written at the signal or at exit.
      const [user, system] = (cpuText.split('\n')[0] ?? '').split(' ').map(Number);
      const cpu = ((user ?? NaN) + (system ?? NaN)) / 1e6;
      resolve({ wall: ready ?? exitWall, cpu });
    });
  });
}

async function main(): Promise<void> {
  const cache = await tempDir('cordon-bench-cache-');
  const data = await tempDir('cordon-bench-data-');
  const env = { ...process.env, CORDON_CACHE_DIR: cache };
  const commands: Command[] = [
    { label: 'node -e 0', args: ['-e', '0'] },
    { label: 'cordon --version', args: [CLI, '--version'], target: 0.15 },
    { label: 'cordon --help', args: [CLI, '--help'], target: 0.15 },
    {
      label: 'cordon decide, examples, cache warm',
      args: [CLI, 'decide', '--policies', EXAMPLES, '--request', REQUEST],
      target: 0.4,
    },
    {
      label: 'cordon serve until ready, examples, data dir used before',
      args: [CLI, 'serve', '--policies', EXAMPLES, '--port', '0', '--data', data],
      target: 0.8,
      readyOn: /"msg":"cordon serving"/,
    },
  ];
  // Prime: the compile caches (CORDON_CACHE_DIR for decide, DATA/cache for serve), the data
  // directory's keys and stores, and the OS page cache for every file a command reads.
  for (const c of commands) await timed(c, env);

  const samples = new Map(commands.map((c) => [c.label, [] as Sample[]]));
  const load = [loadavg()[0]!];
  for (let r = 0; r < ROUNDS; r++)
    for (const c of commands) samples.get(c.label)!.push(await timed(c, env));
  load.push(loadavg()[0]!);

  const of = (label: string, k: keyof Sample) => samples.get(label)!.map((x) => x[k]);
  const floor = { wall: median(of('node -e 0', 'wall')), cpu: median(of('node -e 0', 'cpu')) };
  console.log(
    `CLI start-up, ${ROUNDS} interleaved rounds, Node ${process.version}, load average ${load.map((l) => l.toFixed(1)).join('–')}`,
  );
  console.log(
    `  ${''.padEnd(58)} ${'wall median (min)'.padEnd(20)} ${'CPU median'.padEnd(12)} over node (wall / CPU)`,
  );
  for (const c of commands) {
    const wall = median(of(c.label, 'wall'));
    const cpu = median(of(c.label, 'cpu'));
    const min = Math.min(...of(c.label, 'wall'));
    const over =
      c.label === 'node -e 0'
        ? ''
        : `+${(wall - floor.wall).toFixed(2)} / +${(cpu - floor.cpu).toFixed(2)} s`;
    const target = c.target === undefined ? '' : `  target ≤ ${c.target} s idle`;
    console.log(
      `  ${c.label.padEnd(58)} ${`${wall.toFixed(2)} s (${min.toFixed(2)})`.padEnd(20)} ${`${cpu.toFixed(2)} s`.padEnd(12)} ${over}${target}`,
    );
  }
}

await main();
