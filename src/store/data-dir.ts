// The data directory (audit log, keys, stores): created on first use, readable by its owner
// only, whichever command or store touches it first.

import { mkdirSync } from 'node:fs';

/** Creates `dir` (and missing parents) with mode 0700; an existing directory is left as it is. */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
