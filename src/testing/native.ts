// Tests that need a native part (the sandbox launcher, the eBPF object) skip with a reason
// where it was not built; CI sets CORDON_REQUIRE_NATIVE=1, and there a missing part fails.

import { existsSync } from 'node:fs';

/** Why `path` cannot be used (undefined when it is built); throws under CORDON_REQUIRE_NATIVE=1. */
export function nativeMissing(path: string, needs: string): string | undefined {
  if (existsSync(path)) return undefined;
  const why = `${path} is not built (needs ${needs})`;
  if (process.env.CORDON_REQUIRE_NATIVE === '1')
    throw new Error(`${why}, and CORDON_REQUIRE_NATIVE=1 requires it`);
  return why;
}
