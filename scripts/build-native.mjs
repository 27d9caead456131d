// Builds Cordon's native parts (part of `npm run build`, so `npm ci` builds them too):
//   native/build/cordon-launch    the sandbox launcher (C, against the kernel headers)
//   native/build/egress.bpf.o     the cgroup egress programs (BPF C, needs clang + libbpf-dev)
//   native/build/cordon-egress    changes a running agent's egress allowlist (C, needs libbpf-dev)
// Neither a missing compiler nor a failed compile (another OS, old kernel headers) is a build
// failure: the kernel features then report, at run time, what is missing, and `cordon run`
// refuses to launch (or says what is not enforced). Everything else in Cordon works without them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';

const out = 'native/build';
mkdirSync(out, { recursive: true });

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0;
};
const warn = (s) => process.stderr.write(`build-native: ${s}\n`);
// CI sets CORDON_REQUIRE_NATIVE=1: there any native part not built (a missing toolchain or a
// failed compile) fails the build, instead of skipping the sandbox tests.
const failed = (s) => {
  warn(s);
  if (process.env.CORDON_REQUIRE_NATIVE === '1') process.exit(1);
};

const cc = process.env.CC ?? (have('cc') ? 'cc' : have('gcc') ? 'gcc' : undefined);
const withBpf = existsSync('/usr/include/bpf/libbpf.h');
if (process.platform !== 'linux') {
  warn(`the kernel layer is Linux only (this is ${process.platform}): native parts not built`);
  process.exit(0);
}
if (!cc) {
  failed('no C compiler (cc/gcc): cordon-launch not built; `cordon run` will refuse to start');
} else {
  const flags = ['-O2', '-Wall', '-Wextra', '-o', `${out}/cordon-launch`, 'native/cordon-launch.c'];
  const ok = withBpf ? run(cc, ['-DCORDON_WITH_BPF', ...flags, '-lbpf']) : run(cc, flags);
  if (!ok) {
    rmSync(`${out}/cordon-launch`, { force: true });
    failed('cordon-launch did not compile (see above): `cordon run` will refuse to start');
  } else if (!withBpf)
    failed('libbpf-dev not installed: cordon-launch built without cgroup eBPF egress');
  if (withBpf) {
    const egress = `${out}/cordon-egress`;
    if (!run(cc, ['-O2', '-Wall', '-Wextra', '-o', egress, 'native/cordon-egress.c', '-lbpf'])) {
      rmSync(egress, { force: true });
      failed('cordon-egress did not compile (see above): isolation cannot cut a running agent');
    }
  }
}

if (!have('clang') || !withBpf) {
  failed('clang or libbpf-dev missing: egress.bpf.o not built; IP egress enforcement unavailable');
} else {
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const ok = run('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    `-I/usr/include/${arch}-linux-gnu`,
    '-c',
    'native/egress.bpf.c',
    '-o',
    `${out}/egress.bpf.o`,
  ]);
  if (!ok) {
    rmSync(`${out}/egress.bpf.o`, { force: true });
    failed('egress.bpf.o did not compile (see above): IP egress enforcement unavailable');
  }
}
