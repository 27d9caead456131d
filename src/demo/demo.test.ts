// `cordon demo` as a user runs it, which makes the demo a test of the stories it tells: every
// story passes on the shipped policies (the sandbox story is skipped with its reason where the
// kernel refuses), the table and the verify command are printed and that command verifies the
// log; a story run against a policy set without its guarding policy fails, with exit 1.

import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { runCli } from '../testing/cli.js';
import { kernelSandboxRefusal } from '../sandbox/available.js';
import type { DemoReport } from './run.js';
import { STORIES } from './stories.js';

const dirs: string[] = [];
const fresh = async () => {
  const d = await tempDir('cordon-demo-test-');
  dirs.push(d);
  return d;
};
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('cordon demo', () => {
  it('runs every story on real components, prints the table and a verify command that verifies the log', async () => {
    const dir = join(await fresh(), 'demo');
    const r = await runCli(['demo', '--dir', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const sandbox = kernelSandboxRefusal();
    for (const s of STORIES) {
      const want = s.id === 'analyst-sandbox' && sandbox ? 'SKIP' : 'PASS';
      assert.match(r.stdout, new RegExp(`^${s.id}\\s+${want}\\s`, 'm'), `${s.id}: ${want}`);
      assert.match(r.stdout, new RegExp(`━━ \\d\\. ${s.id}: `), `${s.id} has its section`);
    }
    assert.match(r.stdout, /^story\s+result\s+steps/m);
    assert.match(r.stdout, new RegExp(`^${sandbox ? 6 : 7} passed, 0 failed`, 'm'));
    // Each layer's decisions are shown: the principal each reason decided for, what the layer
    // saw, the decision id.
    assert.match(
      r.stdout,
      /mcp +invokeTool Tool::"postgres\/drop_table" → deny \[interns-no-destructive \(user\)/,
    );
    assert.match(
      r.stdout,
      /token-exchange +delegate Agent::"payout-bot" → deny \[delegation-depth-limit \(agent\).*\]\n +close-bot for alice; saw depth 3\b.*; id [0-9a-f-]{36}/,
    );
    assert.match(
      r.stdout,
      /llm +callModel Model::"local\/gpt-4\.1-mini" → allow .*\n +ledger-bot for alice; id [0-9a-f-]{36}/,
    );
    assert.match(
      r.stdout,
      /readToolResult Tool::"helpdesk\/read_ticket" → deny .*\n.*saw injection \d+/,
    );
    assert.match(r.stdout, /TAMPERED at index \d+/);

    const verify = /^ {2}cordon (audit verify .*)$/m.exec(r.stdout);
    assert.ok(verify, 'the verify command is printed');
    const v = await runCli(verify[1]!.split(' '));
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: \d+ records/);
  });

  it('fails a story whose guarding policy is removed, and says which step and why (exit 1)', async () => {
    const policies = join(await fresh(), 'policies');
    await cp(EXAMPLE_POLICIES, policies, { recursive: true });
    const sre = join(policies, 'sre.cedar');
    const text = await readFile(sre, 'utf8');
    const guard = text.indexOf('@id("interns-no-destructive")');
    assert.ok(guard > 0);
    await writeFile(sre, text.slice(0, guard));

    const r = await runCli([
      'demo',
      'sre-side-door',
      '--policies',
      policies,
      '--dir',
      join(await fresh(), 'demo'),
      '--json',
    ]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as DemoReport;
    assert.equal(report.ok, false);
    const [story] = report.stories;
    assert.equal(story?.id, 'sre-side-door');
    assert.equal(story.status, 'fail');
    const failed = story.steps.filter((s) => s.status === 'fail');
    assert.equal(failed.length, 1, JSON.stringify(story.steps, null, 2));
    assert.match(failed[0]!.title, /DROP TABLE/);
    // Still denied (no policy permits an intern's destructive action), but not by the guard:
    // the story is about that policy, so the failure names it.
    assert.match(failed[0]!.observed, /interns-no-destructive is not among the recorded reasons/);
  });

  it('lists the stories, and refuses an unknown story or a --policies that is not a directory in one line', async () => {
    const list = await runCli(['demo', '--list']);
    assert.equal(list.status, 0);
    for (const s of STORIES) assert.match(list.stdout, new RegExp(`^${s.id}\\s`, 'm'));
    const bad = await runCli(['demo', 'no-such-story']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^cordon: no story "no-such-story": one of sre-side-door, /);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    const notDir = await runCli(['demo', '--policies', join(EXAMPLE_POLICIES, 'entities.json')]);
    assert.equal(notDir.status, 1);
    assert.match(notDir.stderr, /^cordon: --policies .*entities\.json: not a policy directory\n$/);
  });

  it('refuses a --dir that is not empty rather than mixing its files into the demo', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'keep.txt'), 'mine');
    const r = await runCli(['demo', 'aws-key-in-answer', '--dir', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not empty/);
    assert.equal(await readFile(join(dir, 'keep.txt'), 'utf8'), 'mine');
  });
});
