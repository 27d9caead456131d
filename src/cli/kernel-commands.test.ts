import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { agent, entities, EXAMPLE_POLICIES, tempDir, writeTree } from '../testing/fixtures.js';
import { LAUNCHER } from '../kernel/run.js';
import { nativeMissing } from '../testing/native.js';

const BIN = fileURLToPath(new URL('./main.js', import.meta.url));

function cordon(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  // The PDP's own log lines (JSON, e.g. the warning about a signing key in the data
  // directory) are not the command's message: leave them out of what the tests compare.
  const stderr = r.stderr.replace(/^\{"level":.*\n/gm, '');
  return { code: r.status, stdout: r.stdout, stderr };
}

/**
 * A policy directory where agent `bot` reads only inside it, with the network unrestricted (so
 * `cordon run` needs Landlock, not root); undefined, with the test skipped, without Landlock.
 */
async function runnableDir(t: TestContext): Promise<string | undefined> {
  const missing = nativeMissing(LAUNCHER, 'a C compiler at npm install time');
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  const probe = spawnSync(LAUNCHER, ['--allow', 'rx:/', '--', '/bin/true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`Landlock is not available here: ${probe.stderr || probe.error?.message}`);
    return undefined;
  }
  const dir = await tempDir('cordon-run-');
  await writeTree(dir, {
    'p.cedar': `permit(principal, action == Action::"readFile", resource) when { resource.path like "${dir}/*" };
      permit(principal, action == Action::"connectNetwork", resource);`,
    'entities.json': entities([agent('bot', [], {})]),
  });
  return dir;
}

/** `cordon run` for `agent` with the policies and data in `dir`, up to the command. */
const runArgs = (dir: string, agent = 'bot') => [
  'run',
  '--agent',
  agent,
  '--policies',
  dir,
  '--data',
  join(dir, '.data'),
  '--',
];

describe('cordon compile', () => {
  it('prints the compile report for the seed policy', () => {
    const r = cordon(['compile', '--agent', 'analyst-bot', '--policies', EXAMPLE_POLICIES]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /readFile\s+\/var\/run\/secrets\/analyst-key, \/workspace\/analyst-\*/);
    assert.match(
      r.stdout,
      /no-exfiltration-after-sensitive-read \(forbid, behavior\.cedar\): gateway/,
    );
  });

  it('prints a cluster export as JSON', () => {
    const r = cordon([
      'compile',
      '--agent',
      'analyst-bot',
      '--policies',
      EXAMPLE_POLICIES,
      '--target',
      'cilium',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'CiliumNetworkPolicy');
  });

  it('--target landlock prints the paths granted on this machine, the launcher options and what the kernel does not hold', async () => {
    const dir = await tempDir('cordon-landlock-');
    const d = join(dir, 'fs');
    await writeTree(d, { 'ws-a/in.csv': 'a', 'ws-b/in.csv': 'b', 'srv/x': 'x', 'notes.txt': 'n' });
    const policies = join(dir, 'policies');
    await writeTree(policies, {
      'p.cedar': `permit(principal, action == Action::"readFile", resource)
          when { resource.path like "${d}/ws-*" || resource.path == "${d}/notes.txt"
                 || resource.path == "${d}/srv" || resource.path like "${d}/missing/*" };
        forbid(principal, action == Action::"readFile", resource) when { resource.path like "${d}/ws-a/secret/*" };
        permit(principal, action == Action::"writeFile", resource) when { resource.path like "${d}/ws-a/*" };
        permit(principal, action == Action::"exec", resource)
          when { resource.path == "/usr/bin/git" && context.approved == true };
        permit(principal, action == Action::"connectNetwork", resource)
          when { (resource.host == "api.example.com" && resource.port == 443)
                 || (resource.host == "10.0.0.1" && resource.port == 5432) };`,
      'entities.json': entities([agent('bot', [], {})]),
    });
    const args = ['compile', '--agent', 'bot', '--policies', policies, '--target', 'landlock'];
    const r = cordon(args);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    // Each path rule with what it matched here: a prefix is expanded to the existing entries.
    assert.deepEqual(lines.slice(0, 5), [
      `r  ${d}/missing/*  →  (not granted: see the notes)`,
      `r  ${d}/notes.txt  →  ${d}/notes.txt`,
      `r  ${d}/srv  →  (not granted: see the notes)`,
      `r  ${d}/ws-*  →  ${d}/ws-a, ${d}/ws-b`,
      `w  ${d}/ws-a/*  →  ${d}/ws-a`,
    ]);
    assert.equal(
      lines[5],
      `cordon-launch --allow r:${d}/notes.txt --allow r:${d}/ws-a --allow r:${d}/ws-b ` +
        `--allow w:${d}/ws-a --connect-port 5432 -- COMMAND`,
    );
    const notes = lines.slice(6);
    assert.ok(
      notes.every((n) => n.startsWith('- ')),
      r.stdout,
    );
    const note = (re: RegExp) =>
      assert.ok(
        notes.some((n) => re.test(n)),
        `${re}\n${r.stdout}`,
      );
    // Not compiled: the forbid inside the granted tree, the permit that needs the context,
    // the host name (the egress proxy's), the exact path that is a directory.
    note(
      /^- readFile: a forbid removes part of an allowed path .* the gateway enforces the exception$/,
    );
    note(/^- exec: some permits depend on what only the gateway knows: not granted here$/);
    note(
      /^- host names \(api\.example\.com:443\) are invisible to the kernel: they go through the egress proxy/,
    );
    note(new RegExp(`^- readFile "${d}/srv": an exact path that is a directory; .* not granted$`));
    note(
      new RegExp(
        `^- readFile "${d}/ws-\\*": granted on the 2 entries that exist at launch; .*\\(under-approximation\\)$`,
      ),
    );
    note(new RegExp(`^- readFile "${d}/missing/\\*": nothing exists there at launch$`));
    // The same as JSON.
    const j = cordon([...args, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const view = JSON.parse(j.stdout) as {
      paths: { mode: string; pattern: string; matched: string[] }[];
      options: string[];
      notes: string[];
    };
    assert.deepEqual(view.paths.find((p) => p.pattern === `${d}/ws-*`)?.matched, [
      `${d}/ws-a`,
      `${d}/ws-b`,
    ]);
    assert.deepEqual(view.options, lines[5]!.split(' ').slice(1, -2));
    assert.deepEqual(
      view.notes.map((n) => `- ${n}`),
      notes,
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 1 naming an unknown agent', () => {
    const r = cordon(['compile', '--agent', 'ghost', '--policies', EXAMPLE_POLICIES]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown agent "ghost"/);
  });
});

describe('cordon run', () => {
  it('refuses a plan the kernel cannot hold, or an unknown agent, as a user error (exit 1, no stack)', async () => {
    const dir = await tempDir('cordon-run-refused-');
    await writeTree(dir, {
      'p.cedar': `permit(principal, action == Action::"readFile", resource);
        forbid(principal, action == Action::"readFile", resource) when { resource.path like "/etc/shadow*" };`,
      'entities.json': entities([agent('bot', [], {})]),
    });
    const refused = cordon([...runArgs(dir), '/bin/true']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^cordon: readFile is allowed except for 1 forbidden path\(s\), which the kernel cannot hold \(they stay at the gateway\)\. Refusing to launch \(use --best-effort to run anyway\)\n$/,
    );
    const ghost = cordon([...runArgs(dir, 'ghost'), '/bin/true']);
    assert.equal(ghost.code, 1);
    assert.equal(ghost.stderr, 'cordon: unknown agent "ghost": not listed in entities.json\n');
    await rm(dir, { recursive: true, force: true });
  });

  it('a command that is not found is a user error (exit 1, no stack)', async (t) => {
    const dir = await runnableDir(t);
    if (!dir) return;
    const r = cordon([...runArgs(dir), 'cordon-no-such-command']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'cordon: cordon-no-such-command: command not found\n');
    await rm(dir, { recursive: true, force: true });
  });

  it("returns the command's exit code; a denied read fails as the platform's EACCES", async (t) => {
    const dir = await runnableDir(t);
    if (!dir) return;
    const base = runArgs(dir);
    const ok = cordon([...base, '/bin/sh', '-c', 'exit 3']);
    assert.equal(ok.code, 3, ok.stderr);
    const denied = cordon([...base, '/bin/cat', '/etc/hostname']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /Permission denied/);
    const allowed = cordon([...base, '/bin/cat', join(dir, 'p.cedar')]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /permit/);
    await rm(dir, { recursive: true, force: true });
  });
});
