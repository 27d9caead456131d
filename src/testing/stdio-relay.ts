// The floor for any stdio MCP gateway, for the benches: a process between the client and the
// server that relays bytes both ways and does nothing else. `node stdio-relay.js COMMAND ARGS…`

import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 0));
process.stdin.on('end', () => child.kill());
