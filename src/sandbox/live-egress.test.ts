// The in-place egress cut on the real kernel: a process already in a sandboxed group connects to
// a local server, the loaded allowlist changes under it (no restart, no reload), and its next
// connect() is refused; its open connections are ended; cgroup.kill ends it. Skipped with the
// reason where the machine has no root, cgroup v2 or BPF.

import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAgentGroup, findCgroup2Mount, removeAgentGroup } from '../kernel/cgroup.js';
import { BPF_OBJECT, LAUNCHER } from '../kernel/run.js';
import { liveEgressMissing } from '../testing/sandbox-agent.js';
import {
  AllowlistServer,
  allowlistCovers,
  endConnections,
  killGroup,
  listAllowlist,
  openSockets,
  setAllowlist,
} from './live-egress.js';

const SKIP = liveEgressMissing();
if (SKIP) process.stdout.write(`# live egress tests skipped: ${SKIP}\n`);

/**
 * A sandboxed Node process driven line by line on stdin: `connect PORT` answers `ok` or the
 * error code; `hold PORT` opens a connection and keeps it, answering `closed CODE` when the
 * kernel ends it.
 */
const AGENT = `
const net = require('net'); const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const [cmd, port] = l.split(' ');
  const s = net.connect(Number(port), '127.0.0.1');
  s.on('error', (e) => console.log(cmd === 'hold' && s.held ? 'closed ' + e.code : e.code));
  s.on('connect', () => { if (cmd === 'hold') { s.held = true; console.log('held'); } else { s.destroy(); console.log('ok'); } });
  s.on('close', () => { if (s.held && !s.errored) console.log('closed EOF'); });
});
`;

class Agent {
  private lines: string[] = [];
  private waiting: ((l: string) => void)[] = [];
  constructor(readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.waiting.push(r));
  }
  async ask(line: string): Promise<string> {
    this.child.stdin.write(`${line}\n`);
    return this.next();
  }
}

describe('live egress: a running sandbox', { skip: SKIP }, () => {
  let mount: string;
  let group: string;
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];
  let agent: Agent;

  before(async () => {
    mount = findCgroup2Mount()!;
    group = await createAgentGroup(mount, `live-egress-test-${process.pid}`);
    server = createServer((s) => {
      s.on('error', () => s.destroy()); // the kernel ends the agent's side
      accepted.push(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    const child = spawn(
      LAUNCHER,
      [
        '--no-fs',
        '--cgroup',
        group,
        '--bpf',
        BPF_OBJECT,
        '--net',
        '4,127.0.0.1,32,0',
        '--',
        process.execPath,
        '-e',
        AGENT,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    agent = new Agent(child);
  });

  after(async () => {
    agent.child.kill('SIGKILL');
    for (const s of accepted) s.destroy();
    server.close();
    await removeAgentGroup(group);
  });

  it('connects while its address is allowed, is refused (EPERM) at the next connect once the loaded allowlist drops it, and connects again when it is restored', async () => {
    assert.equal(await agent.ask(`connect ${port}`), 'ok');
    assert.deepEqual(await listAllowlist(group), ['4,127.0.0.1,32,0']);

    await setAllowlist(group, []);
    assert.deepEqual(await listAllowlist(group), []);
    assert.equal(await agent.ask(`connect ${port}`), 'EPERM');

    // Narrowed to another port of the same address: this one stays refused.
    await setAllowlist(group, [`4,127.0.0.1,32,${port === 1 ? 2 : port - 1}`]);
    assert.equal(await agent.ask(`connect ${port}`), 'EPERM');

    await setAllowlist(group, ['4,127.0.0.0,8,0']);
    assert.deepEqual(await listAllowlist(group), ['4,127.0.0.0,8,0']);
    assert.equal(await agent.ask(`connect ${port}`), 'ok');
  });

  it('a kept cordon-egress serve makes the same changes, line by line, in order', async () => {
    const server = new AllowlistServer(group).start();
    try {
      await Promise.all([server.set(['4,127.0.0.1,32,0']), server.set([])]);
      assert.equal(await agent.ask(`connect ${port}`), 'EPERM');
      await server.set(['4,127.0.0.1,32,0']);
      assert.equal(await agent.ask(`connect ${port}`), 'ok');
      await assert.rejects(server.set(['4,not-an-address,32,0']), /an entry is malformed/);
      assert.deepEqual(await listAllowlist(group), ['4,127.0.0.1,32,0']);
    } finally {
      server.close();
    }
  });

  it('ends its open connections (socket destroy): the agent reads ECONNABORTED on the one it held', async () => {
    assert.equal(await agent.ask(`hold ${port}`), 'held');
    const open = await openSockets(mount, group);
    assert.ok(
      open.some((s) => s.proto === 'tcp' && s.peer.port === port),
      JSON.stringify(open),
    );
    // One kept by the new allowlist is not ended.
    assert.equal(await endConnections(mount, group, (s) => s.peer.port === port), 0);
    await setAllowlist(group, []);
    assert.equal(await endConnections(mount, group), 1);
    assert.match(await agent.next(), /^closed (ECONNABORTED|ECONNRESET|EOF)$/);
    assert.deepEqual(await openSockets(mount, group), []);
    await setAllowlist(group, ['4,127.0.0.1,32,0']);
  });

  it('cgroup.kill ends every process of the group', async () => {
    const exited = new Promise<NodeJS.Signals | null>((r) =>
      agent.child.once('exit', (_c, s) => r(s)),
    );
    assert.ok((await killGroup(group)) >= 1);
    assert.equal(await exited, 'SIGKILL');
  });

  it('refuses to change a group that has no Cordon programs, saying so', async () => {
    const bare = await createAgentGroup(mount, `live-egress-bare-${process.pid}`);
    try {
      await assert.rejects(setAllowlist(bare, []), /no Cordon egress programs are attached/);
    } finally {
      await removeAgentGroup(bare);
    }
  });
});

describe('live egress: allowlist coverage', () => {
  it('covers an address by range and port, any port with 0, and never across families', () => {
    const list = ['4,10.0.0.0,8,443', '4,127.0.0.1,32,0', '6,::1,128,80'];
    assert.equal(allowlistCovers(list, '10.2.3.4', 443), true);
    assert.equal(allowlistCovers(list, '10.2.3.4', 80), false);
    assert.equal(allowlistCovers(list, '127.0.0.1', 9), true);
    assert.equal(allowlistCovers(list, '::1', 80), true);
    assert.equal(allowlistCovers(list, '::1', 81), false);
    assert.equal(allowlistCovers(list, '11.0.0.1', 443), false);
    assert.equal(allowlistCovers([], '127.0.0.1', 9), false);
  });
});
