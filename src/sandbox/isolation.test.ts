// A `cordon run` sandbox obeys its agent's isolation while it runs, on the real kernel: egress
// cut (the next direct connect gets EPERM, the proxy refuses naming the isolation, an open
// tunnel is closed), restored on release, and full isolation kills the command. Also: what a
// sandbox takes from the states in force, and isolation at launch (full refuses, read-only
// narrows). The kernel parts skip with the reason where the machine lacks root/cgroup v2/BPF.

import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { KernelRunError, LAUNCHER, prepareRun, runSandboxed } from '../kernel/run.js';
import { loadPolicyDir } from '../policy/load.js';
import { openPdp, type Pdp } from '../runtime/pdp.js';
import {
  isolationKey,
  type IsolationState,
  type IsolationStore,
  type IsolationMeasures,
} from '../store/ports.js';
import { agent, entities, tempDir, writeTree } from '../testing/fixtures.js';
import { nativeMissing } from '../testing/native.js';
import { AGENT, controlAt, heldUpstream, liveEgressMissing } from '../testing/sandbox-agent.js';
import { landlockProbe } from './available.js';
import { sandboxIsolation } from './isolation.js';

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

const KERNEL = liveEgressMissing();
const LANDLOCK = (() => {
  const missing = nativeMissing(LAUNCHER, 'a C compiler');
  if (missing) return missing;
  return landlockProbe();
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

describe('sandbox isolation: a running `cordon run`', { skip: KERNEL }, () => {
  let dir: string;
  let pdp: Pdp;
  let upstream: { port: number; close(): void };
  let port: number;

  before(async () => {
    dir = await tempDir('cordon-sandbox-iso-');
    upstream = await heldUpstream();
    port = upstream.port;
    // 127.0.0.1 directly (the eBPF allowlist), localhost by name (the egress proxy).
    pdp = await botPdp(
      dir,
      `permit(principal, action == Action::"connectNetwork", resource) when { ip(resource.host).isInRange(ip("127.0.0.1/32")) };
       permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "localhost" };`,
    );
  });

  after(async () => {
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
  async function start(
    t: TestContext,
    store: IsolationStore,
    name: string,
    baseline?: () => Promise<string[] | undefined>,
  ) {
    const ctlPath = join(dir, `${name}.sock`);
    const ctl = await controlAt(ctlPath);
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
      ...(baseline ? { baseline } : {}),
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

  it('egress limited to the baseline keeps what the baseline holds (by name at the proxy, by address in the kernel) and cuts the rest', async (t) => {
    const other = await heldUpstream();
    t.after(() => other.close());
    const store = new MemoryIsolation();
    const { ctl, said, done } = await start(t, store, 'baseline', async () => [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
    ]);
    assert.equal(await ctl.ask(`connect 127.0.0.1 ${other.port}`), 'ok');
    await store.put(state({ egress: 'baseline' }));
    assert.equal(await ctl.until(`connect 127.0.0.1 ${other.port}`, /^EPERM$/), 'EPERM');
    assert.ok(await saidMatch(said, /egress cut to the baseline/), said.join('\n'));
    assert.equal(await ctl.ask(`connect 127.0.0.1 ${port}`), 'ok');
    assert.equal(await ctl.ask(`proxy localhost:${port}`), '200');
    const refused = await ctl.ask(`proxy localhost:${other.port}`);
    assert.match(refused, /^403 .*forbidden by isolation.*outside the baseline/);
    await store.put(state({ full: true }));
    assert.equal((await done).code, 137);
  });

  it('egress limited to the baseline with no baseline to compare with is no egress (fail closed)', async (t) => {
    const store = new MemoryIsolation();
    await store.put(state({ egress: 'baseline' }));
    const { ctl, done } = await start(t, store, 'no-baseline', async () => undefined);
    assert.equal(await ctl.ask(`connect 127.0.0.1 ${port}`), 'EPERM');
    assert.match(
      await ctl.ask(`proxy localhost:${port}`),
      /^403 .*no baseline to compare with, so no destination is allowed/,
    );
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
