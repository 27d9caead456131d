// A `cordon run` sandbox obeys its agent's isolation while it runs, on the real kernel: egress
// cut (the next direct connect gets EPERM, the proxy refuses naming the isolation, an open
// tunnel is closed), restored on release, and full isolation kills the command. Also: what a
// sandbox takes from the states in force, and isolation at launch (full refuses, read-only
// narrows). The kernel parts skip with the reason where the machine lacks root/cgroup v2/BPF.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { findCgroup2Mount } from '../kernel/cgroup.js';
import { BPF_OBJECT, KernelRunError, LAUNCHER, prepareRun, runSandboxed } from '../kernel/run.js';
import { loadPolicyDir } from '../policy/load.js';
import { openPdp, type Pdp } from '../server/pdp.js';
import {
  isolationKey,
  type IsolationState,
  type IsolationStore,
  type IsolationMeasures,
} from '../store/ports.js';
import { agent, entities, tempDir, writeTree } from '../testing/fixtures.js';
import { nativeMissing } from '../testing/native.js';
import { sandboxIsolation } from './isolation.js';
import { EGRESS_TOOL } from './live-egress.js';

/** The isolation port, kept in memory (the embedded and PostgreSQL stores run the contract suite). */
class MemoryIsolation implements IsolationStore {
  readonly states = new Map<string, IsolationState>();
  async put(s: IsolationState) {
    this.states.set(isolationKey(s), s);
  }
  async release(key: string) {
    return this.states.delete(key);
  }
  async active(now: Date) {
    return [...this.states.values()].filter((s) => !s.until || Date.parse(s.until) > +now);
  }
}

const state = (measures: IsolationMeasures, extra: Partial<IsolationState> = {}) =>
  ({
    agent: 'bot',
    measures,
    reason: 'exfiltration suspected',
    by: 'alice',
    at: new Date().toISOString(),
    ...extra,
  }) satisfies IsolationState;

function kernelRefusal(): string | undefined {
  if (process.getuid?.() !== 0) return 'cgroup eBPF needs root';
  if (!findCgroup2Mount()) return 'no cgroup v2 hierarchy is mounted';
  const missing =
    nativeMissing(LAUNCHER, 'a C compiler') ??
    nativeMissing(BPF_OBJECT, 'clang and libbpf-dev') ??
    nativeMissing(EGRESS_TOOL, 'libbpf-dev');
  if (missing) return missing;
  const r = spawnSync(LAUNCHER, ['--no-fs', '--', '/bin/true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `the launcher refused: ${r.stderr.trim()}`;
}
const KERNEL = kernelRefusal();
const LANDLOCK = (() => {
  const missing = nativeMissing(LAUNCHER, 'a C compiler');
  if (missing) return missing;
  const r = spawnSync(LAUNCHER, ['--allow', 'rx:/', '--', '/bin/true'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `Landlock refused: ${r.stderr.trim()}`;
})();
if (KERNEL) process.stdout.write(`# sandbox isolation tests skipped: ${KERNEL}\n`);

describe('sandbox isolation: which states reach a sandbox', () => {
  it('merges the agent-wide states and its session, strictest first, and names each in the reason', () => {
    const iso = sandboxIsolation(
      [
        state({ egress: 'baseline' }),
        state({ readOnly: true }, { session: 's1', by: 'risk:high', reason: 'novel table' }),
        state({ full: true }, { session: 's2' }),
        state({ full: true }, { user: 'u1' }),
        state({ full: true }, { agent: 'other' }),
      ],
      'bot',
      's1',
    );
    assert.deepEqual(
      { egress: iso?.egress, readOnly: iso?.readOnly, full: iso?.full },
      { egress: 'baseline', readOnly: true, full: false },
    );
    assert.match(
      iso!.reason,
      /agent bot is isolated \(egress limited to the baseline\) by alice: exfiltration suspected/,
    );
    assert.match(iso!.reason, /in session s1 \(read-only\) by risk:high: novel table/);
  });

  it('full isolation cuts egress and is read-only; nothing reaches an agent with no state', () => {
    const iso = sandboxIsolation([state({ full: true })], 'bot');
    assert.deepEqual(
      { egress: iso?.egress, full: iso?.full, readOnly: iso?.readOnly },
      {
        egress: 'none',
        full: true,
        readOnly: true,
      },
    );
    assert.equal(sandboxIsolation([state({ full: true }, { session: 's9' })], 'bot'), undefined);
    assert.equal(sandboxIsolation([], 'bot'), undefined);
  });
});

/** A PDP over `cedar` for Agent "bot", its policies and data in `dir`. */
async function botPdp(dir: string, cedar: string): Promise<Pdp> {
  await writeTree(join(dir, 'policies'), {
    'p.cedar': cedar,
    'entities.json': entities([agent('bot', [], { risk_level: 'low' })]),
  });
  return openPdp(
    configSchema.parse({ policies: join(dir, 'policies'), data: join(dir, 'data'), watch: false }),
    pino({ level: 'silent' }),
  );
}

/** The sandboxed agent: takes commands over a UNIX socket (not an inet connect the cut would refuse). */
const AGENT = `
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
class Control {
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
  async until(line: string, want: RegExp): Promise<string> {
    let got = '';
    // A bound so a sandbox that never obeys fails the test instead of hanging it (not a timing
    // requirement: the measured time is printed).
    for (let i = 0; i < 500; i++) {
      got = await this.ask(line);
      if (want.test(got)) return got;
      await new Promise((r) => setTimeout(r, 20));
    }
    return got;
  }
}

describe('sandbox isolation: a running `cordon run`', { skip: KERNEL }, () => {
  let dir: string;
  let pdp: Pdp;
  let upstream: Server;
  let port: number;
  const held: Socket[] = [];

  before(async () => {
    dir = await tempDir('cordon-sandbox-iso-');
    upstream = createServer((s) => {
      s.on('error', () => {});
      held.push(s);
      s.write('hello');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as { port: number }).port;
    // 127.0.0.1 directly (the eBPF allowlist), localhost by name (the egress proxy).
    pdp = await botPdp(
      dir,
      `permit(principal, action == Action::"connectNetwork", resource) when { ip(resource.host).isInRange(ip("127.0.0.1/32")) };
       permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "localhost" };`,
    );
  });

  after(async () => {
    for (const s of held) s.destroy();
    upstream.close();
    await pdp.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Resolves once a line the run said matches (it says each change after acting on it). */
  async function saidMatch(said: string[], re: RegExp) {
    for (let i = 0; i < 500 && !said.some((l) => re.test(l)); i++)
      await new Promise((r) => setTimeout(r, 20));
    return said.some((l) => re.test(l));
  }

  /** Starts the agent under `cordon run` with the isolation watched in `store`. */
  async function start(t: TestContext, store: IsolationStore, name: string) {
    const ctlPath = join(dir, `${name}.sock`);
    const server = createServer();
    await new Promise<void>((r) => server.listen(ctlPath, r));
    const ctl = new Control(server);
    const said: string[] = [];
    const r = await loadPolicyDir(join(dir, 'policies'));
    assert.ok(r.ok);
    const done = runSandboxed({
      agent: 'bot',
      set: r.set,
      pdp,
      command: [process.execPath, '-e', AGENT],
      env: { ...process.env, CTL: ctlPath },
      bestEffort: false,
      stdio: ['ignore', 'ignore', 'inherit'],
      say: (s) => said.push(s),
      isolation: { store },
    });
    t.after(() => ctl.close());
    return { ctl, said, done };
  }

  it('cuts egress in the kernel and at the proxy within the next polls, ends the open tunnel, and restores it on release', async (t) => {
    const store = new MemoryIsolation();
    const { ctl, said, done } = await start(t, store, 'cut');
    assert.equal(await ctl.ask(`connect 127.0.0.1 ${port}`), 'ok');
    assert.equal(await ctl.ask(`proxy localhost:${port}`), '200');
    assert.equal(await ctl.ask(`tunnel localhost:${port}`), 'open');

    const s = state({ egress: 'none' });
    const t0 = performance.now();
    await store.put(s);
    // The tunnel is closed by the proxy, the direct connect refused by the loaded allowlist.
    assert.equal(await ctl.next(), 'tunnel closed');
    assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^EPERM$/), 'EPERM');
    const ms = performance.now() - t0;
    const refused = await ctl.ask(`proxy localhost:${port}`);
    assert.match(refused, /^403 /);
    const body = JSON.parse(refused.slice(4)) as { error: string; reason: string };
    assert.equal(body.error, 'forbidden by isolation');
    assert.match(
      body.reason,
      /agent bot is isolated \(no egress\) by alice: exfiltration suspected/,
    );
    assert.ok(
      await saidMatch(said, /egress cut \(eBPF allowlist: the proxy only\)/),
      said.join('\n'),
    );

    await store.release(isolationKey(s));
    assert.equal(await ctl.until(`connect 127.0.0.1 ${port}`, /^ok$/), 'ok');
    assert.ok(await saidMatch(said, /egress restored/), said.join('\n'));
    assert.equal(await ctl.ask(`proxy localhost:${port}`), '200');

    // Full isolation ends the command: the run returns with the kill's status.
    await store.put(state({ full: true }));
    const { code } = await done;
    assert.equal(code, 137);
    assert.ok(said.some((l) => /full isolation: \d+ process\(es\) of the sandbox killed/.test(l)));
    process.stdout.write(`# isolation to the first refused connect: ${ms.toFixed(0)} ms\n`);
  });

  it('a sandbox launched while its egress is cut starts without it', async (t) => {
    const store = new MemoryIsolation();
    await store.put(state({ egress: 'none' }));
    const { ctl, done } = await start(t, store, 'launched-cut');
    assert.equal(await ctl.ask(`connect 127.0.0.1 ${port}`), 'EPERM');
    assert.match(await ctl.ask(`proxy localhost:${port}`), /^403 .*forbidden by isolation/);
    await store.put(state({ full: true }));
    assert.equal((await done).code, 137);
  });
});

describe('sandbox isolation: at launch', () => {
  let dir: string;
  let pdp: Pdp;
  before(async () => {
    dir = await tempDir('cordon-sandbox-launch-');
    pdp = await botPdp(
      dir,
      'permit(principal, action in [Action::"connectNetwork", Action::"readFile", Action::"writeFile"], resource);',
    );
  });
  after(async () => {
    await pdp.close();
    await rm(dir, { recursive: true, force: true });
  });

  const launchTrue = (isolation: { store: IsolationStore }) =>
    prepareRun({
      agent: 'bot',
      set: pdp.policies.current(),
      pdp,
      command: ['/bin/true'],
      bestEffort: false,
      isolation,
    });

  it('refuses to launch an agent in full isolation, naming it', async () => {
    const store = new MemoryIsolation();
    await store.put(state({ full: true }));
    await assert.rejects(
      launchTrue({ store }),
      (e: Error) =>
        e instanceof KernelRunError &&
        /agent bot is isolated \(full\) by alice: exfiltration suspected\. Refusing to launch/.test(
          e.message,
        ),
    );
  });

  it('refuses to launch when the isolation store cannot be read (fail closed)', async () => {
    const broken: IsolationStore = {
      put: async () => {},
      release: async () => false,
      active: async () => {
        throw new Error('disk I/O error');
      },
    };
    await assert.rejects(
      launchTrue({ store: broken }),
      /isolation store cannot be read \(disk I\/O error\)/,
    );
  });

  it('launches a read-only agent with reads only: its write is refused', async (t) => {
    if (LANDLOCK) return t.skip(LANDLOCK);
    const store = new MemoryIsolation();
    const target = join(dir, 'written');
    await writeFile(target, 'before');
    const writeIt = () =>
      runSandboxed({
        agent: 'bot',
        set: pdp.policies.current(),
        pdp,
        command: [
          process.execPath,
          '-e',
          `const fs = require('fs'); fs.readFileSync(${JSON.stringify(target)}); try { fs.writeFileSync(${JSON.stringify(target)}, 'x'); } catch (e) { process.exit(e.code === 'EACCES' ? 3 : 4); }`,
        ],
        bestEffort: false,
        stdio: 'ignore',
        say: () => {},
        isolation: { store },
      });
    // The policies allow the write; read-only takes it away, and the read stays.
    assert.equal((await writeIt()).code, 0);
    await store.put(state({ readOnly: true }));
    assert.equal((await writeIt()).code, 3);
  });
});
