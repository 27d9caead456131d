import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { runCli } from '../testing/cli.js';

const bashMissing = spawnSync('bash', ['-c', 'true']).status === 0 ? undefined : 'no bash here';

/** What bash offers after `words` (the last one being completed), with cordon's script loaded. */
function offered(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync(
    'bash',
    [
      '-c',
      `eval "$SCRIPT"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _cordon; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { env: { ...process.env, SCRIPT: script }, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('cordon completion', { skip: bashMissing }, () => {
  it('completes commands, subcommands and their options in bash, from the command tree', async () => {
    const r = await runCli(['completion', 'bash']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(offered(r.stdout, ['cordon', 'pol']), ['policy']);
    assert.deepEqual(offered(r.stdout, ['cordon', 'policy', 'va']), ['validate']);
    assert.deepEqual(offered(r.stdout, ['cordon', 'policy', 'validate', 'DIR', '--j']), ['--json']);
    assert.deepEqual(offered(r.stdout, ['cordon', 'isolate', 'bot', '--no-e']), ['--no-egress']);
    assert.ok(offered(r.stdout, ['cordon', '']).includes('baseline'));
  });

  it('prints zsh and fish scripts, and refuses a shell it does not know', async () => {
    assert.match((await runCli(['completion', 'zsh'])).stdout, /bashcompinit[\s\S]*_cordon/);
    const fish = (await runCli(['completion', 'fish'])).stdout;
    assert.match(fish, /complete -c cordon .*__fish_seen_subcommand_from policy.* -l json/);
    const tcsh = await runCli(['completion', 'tcsh']);
    assert.equal(tcsh.status, 1);
    assert.match(tcsh.stderr, /Allowed choices are bash, zsh, fish/);
    assert.doesNotMatch(tcsh.stderr, /at .*\.js:\d+/, 'no stack trace');
  });
});
