// Whether this machine can run the kernel sandbox: the native launcher is built (it needs a C
// compiler at npm install time) and the kernel lets it apply Landlock. `cordon demo` skips its
// sandbox story with this reason; the sandbox tests use the probe after their own build check.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LAUNCHER } from '../kernel/run.js';

/** Why the launcher cannot apply Landlock here (it runs /bin/true under an allow-all ruleset). */
export function landlockProbe(launcher = LAUNCHER): string | undefined {
  const r = spawnSync(launcher, ['--allow', 'rx:/', '--', '/bin/true'], { encoding: 'utf8' });
  if (r.error) return `the sandbox launcher did not run: ${r.error.message}`;
  return r.status === 0 ? undefined : `Landlock refused: ${r.stderr.trim()}`;
}

/** Why the kernel sandbox cannot run here, or undefined when it can. */
export function kernelSandboxRefusal(launcher = LAUNCHER): string | undefined {
  if (!existsSync(launcher))
    return `the sandbox launcher ${launcher} is not built (needs a C compiler at npm install time)`;
  return landlockProbe(launcher);
}
