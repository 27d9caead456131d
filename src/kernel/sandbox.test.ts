// The sandbox on the real kernel: Landlock for files, exec and TCP ports, the cgroup eBPF
// allowlist for addresses, and the egress proxy for host names. Each test tries the escape
// and shows it refused, and shows the allowed path works. Where this machine refuses a
// mechanism, the test is skipped with the reason.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { openPdp, type Pdp } from '../runtime/pdp.js';
import { loadPolicyDir } from '../policy/load.js';
import { agent, entities, EXAMPLE_POLICIES, tempDir, writeTree } from '../testing/fixtures.js';
import { nativeMissing } from '../testing/native.js';
import { landlockProbe } from '../sandbox/available.js';
import { findCgroup2Mount } from './cgroup.js';
import {
  BPF_OBJECT,
  KernelRunError,
  LAUNCHER,
  prepareRun,
  releaseRun,
  runSandboxed,
} from './run.js';
import { buildLaunch } from './launch.js';
import { enforcementOf } from './enforcement.js';
import { compileKernelPlan, describeSet } from './compiler.js';
import { pathDomain } from './sets.js';

/** Why Landlock cannot be tested here, or undefined when it can. */
function landlockRefusal(): string | undefined {
  const missing = nativeMissing(LAUNCHER, 'a C compiler at npm install time');
  if (missing) return missing;
  return landlockProbe();
}

function ebpfRefusal(): string | undefined {
  if (process.getuid?.() !== 0) return 'cgroup eBPF needs root';
  if (!findCgroup2Mount()) return 'no cgroup v2 hierarchy is mounted';
  return nativeMissing(BPF_OBJECT, 'clang and libbpf-dev');
}

const LANDLOCK = landlockRefusal();
const EBPF = ebpfRefusal();
const skipUnless = (t: TestContext, why: string | undefined) => {
  if (why) t.skip(why);
  return !!why;
};

/** Node code the sandboxed child runs: helpers, then `main` printing one JSON line. */
const PRELUDE = `
const fs = require('fs'), net = require('net'), dgram = require('dgram'), cp = require('child_process');
const read = (p) => { try { fs.readFileSync(p); return 'ok'; } catch (e) { return e.code; } };
const write = (p) => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };
const exec = (f, a = []) => { try { return cp.execFileSync(f, a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim() || 'ok'; } catch (e) { return e.code ?? ('exit ' + e.status); } };
const connect = (host, port) => new Promise((r) => { const s = net.connect(port, host); s.on('connect', () => { s.destroy(); r('ok'); }); s.on('error', (e) => r(e.code)); });
const udp = (host, port) => new Promise((r) => { const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'); s.send('x', port, host, (e) => { s.close(); r(e ? e.code : 'ok'); }); });
const viaProxy = (dest) => new Promise((r) => { const u = new URL(process.env.HTTPS_PROXY); const s = net.connect(Number(u.port), u.hostname, () => s.write('CONNECT ' + dest + ' HTTP/1.1\\r\\nHost: ' + dest + '\\r\\n\\r\\n')); let buf = ''; s.on('data', (d) => { buf += d; if (buf.includes('\\r\\n\\r\\n')) { const status = buf.split(' ')[1]; if (status !== '200') { s.destroy(); r(status); } else if (buf.includes('hello')) { s.destroy(); r('200 hello'); } } }); s.on('error', (e) => r(e.code)); });
`;

/** Leaves the network unrestricted, so a test of file rules needs Landlock only (not root and eBPF). */
const ANY_NETWORK = 'permit(principal, action == Action::"connectNetwork", resource);';

interface Sandbox {
  policies: string;
  agent: string;
}

let pdp: Pdp;
let dataDir: string;
/** Audit records written during the last run(). */
let lastRecords: Record<string, unknown>[] = [];
const servers: Server[] = [];

async function listen(host = '127.0.0.1'): Promise<number> {
  const s = createServer((c) => {
    c.on('error', () => {});
    c.end('hello');
  });
  servers.push(s);
  return new Promise((resolve) =>
    s.listen(0, host, () => resolve((s.address() as { port: number }).port)),
  );
}

async function policyDir(cedar: string, extra: unknown[] = []): Promise<string> {
  const dir = await tempDir('cordon-kernel-');
  await writeTree(dir, {
    'p.cedar': cedar,
    'entities.json': entities([agent('bot', [], { risk_level: 'low' }), ...extra]),
  });
  return dir;
}

/** Runs `main` (an async function body) in the sandbox; returns what it printed as JSON. */
async function run(
  box: Sandbox,
  main: string,
  opts: { bestEffort?: boolean; bpfObject?: string } = {},
): Promise<Record<string, unknown>> {
  const r = await loadPolicyDir(box.policies);
  assert.ok(r.ok, 'policies compile');
  // The decision point for the proxy runs on the same policies, as in `cordon run`.
  await pdp.close();
  pdp = await openPdp(
    configSchema.parse({ policies: box.policies, data: dataDir, watch: false }),
    pino({ level: 'silent' }),
  );
  const before = pdp.audit!.size;
  // The command's output goes to files: runSandboxed waits for the exit, then they are read.
  const outDir = await tempDir('cordon-kernel-out-');
  const stdout = await open(join(outDir, 'stdout'), 'w+');
  const stderr = await open(join(outDir, 'stderr'), 'w+');
  const said: string[] = [];
  try {
    const { code } = await runSandboxed({
      agent: box.agent,
      set: r.set,
      pdp,
      command: [
        'node',
        '-e',
        `${PRELUDE}(async () => { console.log(JSON.stringify(await (async () => { ${main} })())); })()`,
      ],
      bestEffort: opts.bestEffort ?? false,
      ...(opts.bpfObject ? { bpfObject: opts.bpfObject } : {}),
      stdio: ['ignore', stdout.fd, stderr.fd],
      say: (s) => said.push(s),
    });
    const out = await readFile(join(outDir, 'stdout'), 'utf8');
    if (code !== 0)
      throw new Error(
        `the sandboxed command exited ${code}\n${await readFile(join(outDir, 'stderr'), 'utf8')}\n${said.join('\n')}`,
      );
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  } finally {
    await stdout.close();
    await stderr.close();
    await rm(outDir, { recursive: true, force: true });
    await new Promise((r) => setTimeout(r, 20)); // the audit log commits in the next tick
    lastRecords = (await pdp.audit!.store.tail(pdp.audit!.size - before)).map(
      (x) => JSON.parse(x.record) as Record<string, unknown>,
    );
  }
}

before(async () => {
  dataDir = await tempDir('cordon-kernel-data-');
  const config = configSchema.parse({ policies: EXAMPLE_POLICIES, data: dataDir, watch: false });
  pdp = await openPdp(config, pino({ level: 'silent' }));
});

after(async () => {
  for (const s of servers) s.close();
  await pdp.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('sandbox: files (Landlock)', () => {
  it('reads and writes only where the policy allows; .. and symlinks do not escape', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const root = await tempDir('cordon-fs-');
    const ws = join(root, 'ws');
    await mkdir(ws);
    await writeFile(join(ws, 'in.txt'), 'in');
    await writeFile(join(root, 'secret.txt'), 'secret');
    await symlink(join(root, 'secret.txt'), join(ws, 'link-to-secret'));
    const box = {
      agent: 'bot',
      policies: await policyDir(
        `permit(principal, action in [Action::"readFile", Action::"writeFile"], resource) when { resource.path like "${ws}/*" }; ${ANY_NETWORK}`,
      ),
    };
    const got = await run(
      box,
      `return {
        inside: read('${ws}/in.txt'),
        outside: read('${root}/secret.txt'),
        dotdot: read('${ws}/../secret.txt'),
        symlink: read('${ws}/link-to-secret'),
        etc: read('/etc/hostname'),
        create: write('${ws}/new.txt'),
        writeOutside: write('${root}/planted.txt'),
        symlinkWrite: write('${ws}/link-to-secret'),
      };`,
    );
    assert.deepEqual(got, {
      inside: 'ok',
      outside: 'EACCES',
      dotdot: 'EACCES',
      symlink: 'EACCES',
      etc: 'EACCES',
      create: 'ok',
      writeOutside: 'EACCES',
      symlinkWrite: 'EACCES',
    });
    await rm(root, { recursive: true, force: true });
  });

  it('an exact path that is a directory does not open the files beneath it', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const root = await tempDir('cordon-exact-');
    const srv = join(root, 'srv');
    await mkdir(srv);
    await writeFile(join(srv, 'payroll.csv'), 'salaries');
    await writeFile(join(root, 'note.txt'), 'note');
    const box = {
      agent: 'bot',
      policies: await policyDir(
        `permit(principal, action == Action::"readFile", resource) when { resource.path == "${srv}" || resource.path == "${root}/note.txt" }; ${ANY_NETWORK}`,
      ),
    };
    const got = await run(
      box,
      `return { beneath: read('${srv}/payroll.csv'), exactFile: read('${root}/note.txt') };`,
    );
    assert.deepEqual(got, { beneath: 'EACCES', exactFile: 'ok' });
    await rm(root, { recursive: true, force: true });
  });

  it('exec only of allowed binaries, and children inherit every restriction', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const root = await tempDir('cordon-exec-');
    await writeFile(join(root, 'secret.txt'), 'secret');
    const box = {
      agent: 'bot',
      policies: await policyDir(
        `permit(principal, action == Action::"exec", resource) when { resource.path == "${process.execPath}" }; ${ANY_NETWORK}`,
      ),
    };
    const child = `${PRELUDE} console.log(JSON.stringify({ read: read('${root}/secret.txt'), sh: exec('/bin/sh', ['-c', 'true']) }))`;
    const got = await run(
      box,
      `return {
        sh: exec('/bin/sh', ['-c', 'echo escaped']),
        cat: exec('/bin/cat', ['/etc/hostname']),
        child: JSON.parse(exec(process.execPath, ['-e', ${JSON.stringify(child)}])),
      };`,
    );
    assert.deepEqual(got, {
      sh: 'EACCES',
      cat: 'EACCES',
      child: { read: 'EACCES', sh: 'EACCES' },
    });
    await rm(root, { recursive: true, force: true });
  });
});

describe('sandbox: network', () => {
  it('TCP connect only to the allowed address and port (Landlock ports + eBPF addresses)', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const allowed = await listen();
    const other = await listen();
    const box = {
      agent: 'bot',
      policies: await policyDir(
        `permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "127.0.0.1" && resource.port == ${allowed} };`,
      ),
    };
    const got = await run(
      box,
      `return {
        allowed: await connect('127.0.0.1', ${allowed}),
        otherPort: await connect('127.0.0.1', ${other}),
        mapped: await connect('::ffff:127.0.0.1', ${other}),
      };`,
      { bestEffort: !!EBPF },
    );
    assert.equal(got.allowed, 'ok');
    // Landlock refuses the port with EACCES before the eBPF program would say EPERM.
    assert.equal(got.otherPort, 'EACCES');
    assert.equal(got.mapped, 'EACCES');
  });

  it('eBPF refuses other addresses on an allowed port, IPv4-mapped IPv6 and UDP', async (t) => {
    if (skipUnless(t, LANDLOCK ?? EBPF)) return;
    const port = await listen('0.0.0.0');
    const box = {
      agent: 'bot',
      // Any port on 127.0.0.1: Landlock cannot restrict ports here, so eBPF alone decides.
      policies: await policyDir(
        `permit(principal, action == Action::"connectNetwork", resource) when { ip(resource.host).isInRange(ip("127.0.0.1/32")) };`,
      ),
    };
    const got = await run(
      box,
      `return {
        allowed: await connect('127.0.0.1', ${port}),
        otherAddress: await connect('127.0.0.2', ${port}),
        mapped: await connect('::ffff:127.0.0.2', ${port}),
        v6: await connect('::1', ${port}),
        udpAllowed: await udp('127.0.0.1', 9),
        udpOther: await udp('127.0.0.3', 53),
      };`,
    );
    assert.deepEqual(got, {
      allowed: 'ok',
      otherAddress: 'EPERM',
      mapped: 'EPERM',
      v6: 'EPERM',
      udpAllowed: 'ok',
      udpOther: 'EPERM',
    });
  });

  it('host names go through the egress proxy, which decides each one (audited); the kernel refuses the bypass', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const allowed = await listen();
    const other = await listen();
    const box = {
      agent: 'bot',
      policies: await policyDir(
        `permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "localhost" && resource.port == ${allowed} };`,
      ),
    };
    const got = await run(
      box,
      `return {
        viaProxy: await viaProxy('localhost:${allowed}'),
        refusedName: await viaProxy('localhost:${other}'),
        refusedHost: await viaProxy('example.com:443'),
        bypass: await connect('127.0.0.1', ${allowed}),
      };`,
      { bestEffort: !!EBPF },
    );
    assert.deepEqual(got, {
      viaProxy: '200 hello',
      refusedName: '403',
      refusedHost: '403',
      bypass: 'EACCES',
    });
    // The launch record and three proxy decisions.
    const recs = lastRecords as { pep: string; decision: string; resource: { id: string } }[];
    const egress = recs.filter((r) => r.pep === 'egress');
    assert.deepEqual(
      egress.map((r) => [r.resource.id, r.decision]).sort(),
      [
        ['example.com:443', 'deny'],
        [`localhost:${allowed}`, 'allow'],
        [`localhost:${other}`, 'deny'],
      ].sort(),
    );
    assert.equal(recs.filter((r) => r.pep === 'kernel').length, 1);
  });
});

describe('sandbox: the seed data-analyst policy', () => {
  it('enforces what its compile report says', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const ws = `/workspace/analyst-cordon-test-${process.pid}`;
    const hadWorkspace = existsSync('/workspace');
    try {
      await mkdir(ws, { recursive: true });
    } catch (e) {
      t.skip(`cannot create ${ws}: ${(e as Error).message}`);
      return;
    }
    try {
      await writeFile(join(ws, 'q3.csv'), 'a,b');
      const r = await loadPolicyDir(EXAMPLE_POLICIES);
      assert.ok(r.ok);
      const plan = compileKernelPlan(r.set, 'analyst-bot');
      assert.equal(
        describeSet(plan.readFile.allowed, pathDomain.key),
        '/var/run/secrets/analyst-key, /workspace/analyst-*',
      );
      const launch = await buildLaunch(enforcementOf(plan), {
        command: ['node'],
        bestEffort: false,
      });
      assert.ok(
        launch.paths.find((p) => p.pattern === '/workspace/analyst-*')?.matched.includes(ws),
      );
      const port = await listen();
      const got = await run(
        { agent: 'analyst-bot', policies: EXAMPLE_POLICIES },
        `return {
          workspace: read('${ws}/q3.csv'),
          writeWorkspace: write('${ws}/out.csv'),
          shadow: read('/etc/shadow'),
          otherWorkspace: read('/workspace'),
          exec: exec('/bin/sh', ['-c', 'true']),
          direct: await connect('127.0.0.1', ${port}),
          paste: await viaProxy('paste.example.com:443'),
        };`,
        { bestEffort: !!EBPF },
      );
      assert.deepEqual(got, {
        workspace: 'ok',
        writeWorkspace: 'ok',
        shadow: 'EACCES',
        otherWorkspace: 'EACCES',
        exec: 'EACCES',
        direct: 'EACCES',
        paste: '403',
      });
    } finally {
      await rm(ws, { recursive: true, force: true });
      if (!hadWorkspace) await rm('/workspace', { recursive: true, force: true });
    }
  });
});

describe('sandbox: privileges', () => {
  it('a root agent runs with no capability left, so it cannot detach the eBPF programs or open raw sockets', (t) => {
    if (skipUnless(t, LANDLOCK ?? (process.getuid?.() === 0 ? undefined : 'needs root'))) return;
    const r = spawnSync(LAUNCHER, ['--allow', 'rx:/', '--', '/bin/cat', '/proc/self/status'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const caps = Object.fromEntries(
      [...r.stdout.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]),
    );
    const none = '0000000000000000';
    assert.deepEqual(caps, {
      CapInh: none,
      CapPrm: none,
      CapEff: none,
      CapBnd: none,
      CapAmb: none,
    });
  });
});

describe('sandbox: refusals', () => {
  it('a mechanism the machine refuses stops the launch, unless best effort, which names it', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const policies = await policyDir(
      `permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "10.0.0.1" };`,
    );
    const r = await loadPolicyDir(policies);
    assert.ok(r.ok);
    const base = {
      agent: 'bot',
      set: r.set,
      pdp,
      command: ['/bin/true'],
      bpfObject: '/nonexistent/egress.bpf.o',
    };
    await assert.rejects(
      prepareRun({ ...base, bestEffort: false }),
      (e: Error) => e instanceof KernelRunError && /Refusing to launch/.test(e.message),
    );
    const p = await prepareRun({ ...base, bestEffort: true });
    try {
      // The address is allowed on every port, so without eBPF nothing restricts it.
      assert.equal(p.unenforced.length, 2);
      assert.match(p.unenforced[0]!, /IP egress/);
      assert.match(p.unenforced[1]!, /TCP ports cannot be restricted/);
    } finally {
      await releaseRun(p);
    }
  });

  it('"everything except" a forbidden destination or path is refused, not silently dropped', async (t) => {
    if (skipUnless(t, LANDLOCK)) return;
    const policies = await policyDir(
      `permit(principal, action == Action::"connectNetwork", resource);
       forbid(principal, action == Action::"connectNetwork", resource) when { resource.host == "paste.example.com" };
       permit(principal, action == Action::"readFile", resource);
       forbid(principal, action == Action::"readFile", resource) when { resource.path like "/etc/shadow*" };`,
    );
    const r = await loadPolicyDir(policies);
    assert.ok(r.ok);
    const base = { agent: 'bot', set: r.set, pdp, command: ['/bin/true'] };
    await assert.rejects(
      prepareRun({ ...base, bestEffort: false }),
      (e: Error) =>
        e instanceof KernelRunError && /forbidden .* kernel cannot hold.*Refusing/s.test(e.message),
    );
    const p = await prepareRun({ ...base, bestEffort: true });
    try {
      assert.ok(
        p.unenforced.some((u) => /^connectNetwork is allowed except/.test(u)),
        p.unenforced.join('\n'),
      );
      assert.ok(
        p.unenforced.some((u) => /^readFile is allowed except/.test(u)),
        p.unenforced.join('\n'),
      );
    } finally {
      await releaseRun(p);
    }
  });
});
