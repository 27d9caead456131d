#!/usr/bin/env node
// Entry point of the `cordon` command.

import { ConfigError } from '../config/config.js';
import { RequestError } from '../core/request.js';
import { PolicyDirError } from '../policy/load.js';
import { PolicyLoadError } from '../policy/live.js';
import { ScaffoldError } from '../policy/scaffold.js';
import { AuditLogError } from '../audit/log.js';
import { ApprovalCliError } from './approval-commands.js';
import { AuditCliError } from './audit-commands.js';
import { IdentityCliError } from './identity-commands.js';
import { BearerError } from '../mcp/bearer.js';
import { McpCliError, McpConfigError } from './mcp-commands.js';
import { buildCli, UserError } from './commands.js';
import { KernelCliError } from './kernel-commands.js';
import { KernelCompileError } from '../kernel/compiler.js';
import { KernelRunError } from '../kernel/run.js';
import { LaunchError } from '../kernel/launch.js';

// Output piped into `head` and the like: stop quietly when the reader goes away.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

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
  AuditCliError,
  ApprovalCliError,
  AuditLogError,
  IdentityCliError,
  McpCliError,
  McpConfigError,
  BearerError,
  KernelCliError,
  KernelCompileError,
  KernelRunError,
  LaunchError,
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
