// Whether Cordon owns this process (the `cordon` command) and may change process-wide V8 flags
// while compiling large policy sets (core/compile.ts). A library host never set this, so its
// JIT settings are never touched; large sets are then analyzed in a child process instead
// (policy/isolated-compile.ts). No imports: the CLI entry sets it before loading anything else.

let owned = false;

/** Called by the `cordon` command's entry point, and by nothing a library host loads. */
export function ownProcessFlags(): void {
  owned = true;
}

export function processFlagsOwned(): boolean {
  return owned;
}
