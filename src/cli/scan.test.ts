import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeSecrets } from '../inspect/fixtures/samples.js';
import { tempDir } from '../testing/fixtures.js';
import { CORDON_CLI } from '../testing/mcp.js';

const s = makeSecrets(71);
const scan = (args: string[], input?: string) =>
  spawnSync(process.execPath, [CORDON_CLI, 'scan', ...args], { input, encoding: 'utf8' });

describe('cordon scan', () => {
  const text = `line one\naws_key = ${s.aws}\nmail bob@corp.example\n`;

  it('--json prints the findings with spans and never the secret', async () => {
    const file = join(await tempDir(), 'leak.txt');
    await writeFile(file, text);
    const r = scan(['--json', file]);
    assert.equal(r.status, 1, 'findings: exit 1');
    assert.ok(!r.stdout.includes(s.aws));
    const { findings } = JSON.parse(r.stdout) as {
      findings: { detector: string; type: string; start: number; end: number; score: number }[];
    };
    assert.deepEqual(
      findings.map((f) => [f.detector, f.type, text.slice(f.start, f.end)]),
      [
        ['secrets', 'aws-access-token', s.aws],
        ['pii', 'email', 'bob@corp.example'],
      ],
    );
    assert.deepEqual(Object.keys(findings[0]!).sort(), [
      'detector',
      'end',
      'score',
      'start',
      'type',
    ]);
  });

  it('reads stdin and reports line:column, exit 0 when clean', () => {
    const r = scan(['-'], text);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^2:11\tsecrets\taws-access-token\t/m);
    assert.ok(!r.stdout.includes(s.aws));
    const clean = scan([], 'nothing to see here\n');
    assert.equal(clean.status, 0);
    assert.match(clean.stdout, /0 findings/);
  });
});
