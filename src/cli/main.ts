#!/usr/bin/env node
// Entry point of the `cordon` command. It loads the command definitions only; each command
// loads its subsystems when it runs, and an error is classified without loading any.

import { ownProcessFlags } from '../core/process-flags.js';
import module from 'node:module';
import { buildCli } from './commands.js';
import { debugRequested, describeError } from './errors.js';

// Node 22+: keep the compiled code of modules between runs (in the OS temp dir), so a command
// does not compile its imports again; they are dynamic, so they load after this. Node 20 has
// no such cache, and nothing happens there.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// This process is Cordon's: compiling a large policy set may switch V8 flags (core/compile.ts).
ownProcessFlags();

// Output piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const exit = (code: number) => {
  process.exitCode = code;
};

buildCli(exit)
  .parseAsync(process.argv)
  .catch(async (e: unknown) => {
    process.stderr.write(`cordon: ${await describeError(e, debugRequested(process.argv))}\n`);
    process.exitCode = 1;
  });
