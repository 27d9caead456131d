// How the CLI reports a failure: errors a person caused (bad input, a missing file, a port in
// use) as one line naming what to do; anything else as an unexpected error, with the stack
// only under --debug. Loading this module loads no subsystem: the error classes are looked
// up by name and imported only to confirm one, which is free (a thrown error's module is
// already loaded).

/** An error in what the user asked for; its message is shown as is. */
export class UserError extends Error {}

type ErrorClass = abstract new (...args: never[]) => Error;
type Loader = () => Promise<ErrorClass>;

/** The error classes whose messages are written for people, by class name. */
const USER_ERRORS: Record<string, Loader> = {
  UserError: () => Promise.resolve(UserError),
  ConfigError: async () => (await import('../config/config.js')).ConfigError,
  RequestError: async () => (await import('../core/request.js')).RequestError,
  PolicyDirError: async () => (await import('../policy/load.js')).PolicyDirError,
  PolicyLoadError: async () => (await import('../policy/live.js')).PolicyLoadError,
  ScaffoldError: async () => (await import('../policy/scaffold.js')).ScaffoldError,
  AuditLogError: async () => (await import('../audit/log.js')).AuditLogError,
  AuditCliError: async () => (await import('./audit-commands.js')).AuditCliError,
  ApiCliError: async () => (await import('./api-client.js')).ApiCliError,
  IdentityCliError: async () => (await import('./identity-commands.js')).IdentityCliError,
  TokenError: async () => (await import('../identity/tokens.js')).TokenError,
  CredentialError: async () => (await import('../identity/credentials.js')).CredentialError,
  McpCliError: async () => (await import('./mcp-commands.js')).McpCliError,
  McpConfigError: async () => (await import('../pep/mcp/config.js')).McpConfigError,
  BearerError: async () => (await import('../pep/mcp/bearer.js')).BearerError,
  PinError: async () => (await import('../pep/mcp/pins.js')).PinError,
  UpstreamError: async () => (await import('../pep/mcp/upstream.js')).UpstreamError,
  KernelCliError: async () => (await import('./kernel-commands.js')).KernelCliError,
  KernelCompileError: async () => (await import('../kernel/compiler.js')).KernelCompileError,
  KernelRunError: async () => (await import('../kernel/run.js')).KernelRunError,
  LaunchError: async () => (await import('../kernel/launch.js')).LaunchError,
};

/** Whether e is an instance of one of the classes above (walking its class chain). */
async function isUserError(e: Error): Promise<boolean> {
  for (let p: unknown = Object.getPrototypeOf(e); p && p !== Error.prototype;) {
    const ctor = (p as { constructor?: { name?: string } }).constructor;
    const load = ctor?.name ? USER_ERRORS[ctor.name] : undefined;
    if (load && e instanceof (await load())) return true;
    p = Object.getPrototypeOf(p);
  }
  return false;
}

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  path?: string;
  address?: string;
  port?: number;
}

/** A system call that failed on what the user named (a file, a port): what to do about it. */
function systemErrorMessage(e: SystemError): string | undefined {
  if (typeof e.syscall !== 'string' || typeof e.code !== 'string') return undefined;
  const where =
    e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : undefined;
  switch (e.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where ?? 'the address'}: it is already in use (another cordon running? choose another port)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where ?? 'the address'}: no interface of this machine has that address (check --host)`;
    case 'EACCES':
      return e.syscall === 'listen' || e.syscall === 'bind'
        ? `cannot listen on ${where ?? 'the address'}: permission denied (ports below 1024 need privileges; choose another port)`
        : `${e.path ?? e.syscall}: permission denied`;
    case 'ENOENT':
      return `${e.path ?? e.syscall}: no such file or directory`;
    case 'ENOTDIR':
      return `${e.path ?? e.syscall}: a part of the path is not a directory`;
    case 'EISDIR':
      return `${e.path ?? e.syscall}: is a directory, expected a file`;
    default:
      return e.message.split('\n')[0];
  }
}

/**
 * What to print (without the `cordon: ` prefix) for an error that ended a command. Without
 * debug it is one line or a short block, never a stack trace.
 */
export async function describeError(e: unknown, debug: boolean): Promise<string> {
  if (!(e instanceof Error)) return `unexpected error: ${String(e)}`;
  const known = (await isUserError(e)) ? e.message : systemErrorMessage(e);
  if (known !== undefined) return debug && e.stack ? `${known}\n${e.stack}` : known;
  if (debug) return `unexpected error: ${e.stack ?? e.message}`;
  return `unexpected error: ${e.message.split('\n')[0]} (run again with --debug for the stack trace, and please report it)`;
}

/** --debug anywhere on the command line, or CORDON_DEBUG=1. */
export function debugRequested(argv: readonly string[], env = process.env): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--debug') || env.CORDON_DEBUG === '1';
}
