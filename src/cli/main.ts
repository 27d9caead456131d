#!/usr/bin/env node
// Entry point of the `cordon` command.

import { ConfigError } from '../config/config.js';
import { RequestError } from '../core/request.js';
import { PolicyDirError } from '../policy/load.js';
import { PolicyLoadError } from '../policy/live.js';
import { ScaffoldError } from '../policy/scaffold.js';
import { buildCli, UserError } from './commands.js';

const exit = (code: number) => {
  process.exitCode = code;
};

const userErrors = [
  UserError,
  ConfigError,
  RequestError,
  PolicyDirError,
  PolicyLoadError,
  ScaffoldError,
];

buildCli(exit)
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    if (userErrors.some((t) => e instanceof t)) {
      process.stderr.write(`cordon: ${(e as Error).message}\n`);
    } else {
      process.stderr.write(`cordon: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    }
    process.exitCode = 1;
  });
