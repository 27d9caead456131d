// A sandboxed agent driven from outside, for the isolation tests and the benchmark: a Node
// program that takes one command a line over a UNIX socket (a channel the network cut leaves
// alone) and answers one line: `connect HOST PORT` (ok or the error code), `proxy DEST` (the
// egress proxy's CONNECT status, with the body when refused), `tunnel DEST` (keeps it open and
// says `tunnel closed` when it ends).

import { createServer, type Server, type Socket } from 'node:net';
import { findCgroup2Mount } from '../kernel/cgroup.js';
import { BPF_OBJECT, LAUNCHER } from '../kernel/run.js';
import { EGRESS_TOOL } from '../sandbox/live-egress.js';
import { nativeMissing } from './native.js';

/** Why a running sandbox's egress cannot be changed here (root, cgroup v2, the native parts). */
export function liveEgressMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'cgroup eBPF needs root';
  if (!findCgroup2Mount()) return 'no cgroup v2 hierarchy is mounted';
  return (
    nativeMissing(LAUNCHER, 'a C compiler') ??
    nativeMissing(BPF_OBJECT, 'clang and libbpf-dev') ??
    nativeMissing(EGRESS_TOOL, 'libbpf-dev')
  );
}

/** A loopback server that greets and keeps each connection open (a tunnel's far end). */
export async function heldUpstream(): Promise<{ port: number; close(): void }> {
  const held: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => {});
    held.push(s);
    s.write('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of held) s.destroy();
      server.close();
    },
  };
}

/** The sandboxed agent: takes commands over a UNIX socket (not an inet connect the cut would refuse). */
export const AGENT = `
const net = require('net');
const c = net.connect(process.env.CTL);
c.on('close', () => process.exit(0)); // the test is over
const say = (s) => c.write(s + '\\n');
let buf = '';
c.on('data', (d) => { buf += d; for (let i; (i = buf.indexOf('\\n')) >= 0; ) { const l = buf.slice(0, i); buf = buf.slice(i + 1); handle(l); } });
function handle(l) {
  const [cmd, a, b] = l.split(' ');
  if (cmd === 'connect') {
    const s = net.connect(Number(b), a);
    s.on('connect', () => { s.destroy(); say('ok'); });
    s.on('error', (e) => say(e.code));
    return;
  }
  // proxy DEST: the CONNECT status (and body when refused); tunnel DEST: keeps it open.
  const u = new URL(process.env.HTTPS_PROXY);
  const s = net.connect(Number(u.port), u.hostname, () => s.write('CONNECT ' + a + ' HTTP/1.1\\r\\nHost: ' + a + '\\r\\n\\r\\n'));
  let got = ''; let status;
  s.on('data', (d) => {
    got += d;
    if (status === undefined && got.includes('\\r\\n\\r\\n')) {
      status = got.split(' ')[1];
      if (status === '200') { if (cmd === 'proxy') s.destroy(); say(cmd === 'proxy' ? '200' : 'open'); }
    }
  });
  s.on('close', () => {
    if (status === '200') { if (cmd === 'tunnel') say('tunnel closed'); }
    else say((status ?? 'no answer') + ' ' + got.split('\\r\\n\\r\\n')[1]);
  });
  s.on('error', () => {});
}
`;

/** The control side of AGENT: one command, one answer line. */
export class Control {
  private lines: string[] = [];
  private waiting: ((l: string) => void)[] = [];
  private sock?: Socket;
  private connected: Promise<void>;
  constructor(readonly server: Server) {
    this.connected = new Promise((resolve) =>
      server.on('connection', (s) => {
        this.sock = s;
        let buf = '';
        s.on('data', (d) => {
          buf += d;
          for (let i; (i = buf.indexOf('\n')) >= 0;) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            const w = this.waiting.shift();
            if (w) w(line);
            else this.lines.push(line);
          }
        });
        s.on('error', () => {});
        resolve();
      }),
    );
  }
  /** Ends the agent (it exits when its control connection closes). */
  close() {
    this.sock?.destroy();
    this.server.close();
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.waiting.push(r));
  }
  async ask(line: string): Promise<string> {
    await this.connected;
    this.sock!.write(`${line}\n`);
    return this.next();
  }
  /** Asks until the answer matches (the isolation is polled): the answers on the way. */
  async until(line: string, want: RegExp, everyMs = 20): Promise<string> {
    let got = '';
    // A bound so a sandbox that never obeys fails the test instead of hanging it (not a timing
    // requirement: the measured time is printed).
    for (let i = 0; i < 10_000 / everyMs; i++) {
      got = await this.ask(line);
      if (want.test(got)) return got;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return got;
  }
}

/** A control socket at `path` and its Control. */
export async function controlAt(path: string): Promise<Control> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  return new Control(server);
}
