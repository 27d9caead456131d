import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { loadPolicyDir } from '../policy/load.js';

async function examplePolicyCount(): Promise<number> {
  const r = await loadPolicyDir(EXAMPLE_POLICIES);
  assert.ok(r.ok);
  return r.set.size;
}

const BIN = fileURLToPath(new URL('./main.js', import.meta.url));

function cordon(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function exampleCopy(): Promise<string> {
  const dir = await tempDir();
  await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  return dir;
}

describe('cordon policy validate', () => {
  it('exits 0 on the examples and says they are type-checked', async () => {
    const r = cordon(['policy', 'validate', EXAMPLE_POLICIES]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `valid: ${await examplePolicyCount()} policies.*type-checked against schema\\.cedarschema`,
      ),
    );
  });

  it('exits 1 with file:line:col on a broken policy', async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, 'sre.cedar'),
      (await readFile(join(dir, 'sre.cedar'), 'utf8')).replace(
        'resource.readOnly',
        'resource.readonly',
      ),
    );
    const r = cordon(['policy', 'validate', dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^sre\.cedar:\d+:\d+ for policy "staff-read-only-tools", attribute `readonly` on entity type `Tool` not found/m,
    );
  });

  it('says when there is no schema and so no type-checking', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'p.cedar'), 'permit(principal, action, resource);\n');
    const r = cordon(['policy', 'validate', dir]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /not type-checked/);
  });

  it('exits 1 on a missing directory', () => {
    const r = cordon(['policy', 'validate', '/nonexistent/policies']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not exist/);
  });
});

describe('cordon policy fmt', () => {
  it('--check passes on formatted files and fails on unformatted ones; fmt fixes them', async () => {
    const dir = await exampleCopy();
    assert.equal(cordon(['policy', 'fmt', '--check', dir]).code, 0);
    await writeFile(
      join(dir, 'extra.cedar'),
      '// keep me\npermit(principal,action,resource) when {context.x==1};\n',
    );
    const check = cordon(['policy', 'fmt', '--check', dir]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /would reformat extra\.cedar/);
    assert.equal(cordon(['policy', 'fmt', dir]).code, 0);
    const text = await readFile(join(dir, 'extra.cedar'), 'utf8');
    assert.match(
      text,
      /^\/\/ keep me\npermit \(principal, action, resource\)\nwhen \{ context\.x == 1 \};\n$/,
    );
    assert.equal(cordon(['policy', 'fmt', '--check', dir]).code, 0);
  });
});

describe('cordon policy test', () => {
  it('passes the example tests and ends with the counts line', () => {
    const r = cordon(['policy', 'test', EXAMPLE_POLICIES]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout.trimEnd().split('\n').at(-1)!, /^\d+ passed, 0 failed$/);
  });

  it('exits 1 and shows the actual reasons when a case fails', async () => {
    const dir = await exampleCopy();
    await writeFile(
      join(dir, 'tests', 'wrong.yaml'),
      'cases:\n  - name: expects the side door open\n    request: { agent: director-agent, user: bob, action: invokeTool, resource: { type: Tool, id: postgres/drop_table } }\n    expect: allow\n',
    );
    const r = cordon(['policy', 'test', dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /✗ tests\/wrong\.yaml: expects the side door open\n {4}expected allow, got deny\n {4}reason: [^]*interns-no-destructive \(forbid, user\)/,
    );
    assert.match(r.stdout.trimEnd().split('\n').at(-1)!, /^\d+ passed, 1 failed$/);
  });

  it('counts a malformed test file as a failure', async () => {
    const dir = await exampleCopy();
    await writeFile(join(dir, 'tests', 'bad.yaml'), 'cases:\n  - name: x\n    expect: maybe\n');
    const r = cordon(['policy', 'test', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✗ tests\/bad\.yaml: .*request/);
  });
});

describe('cordon decide and init', () => {
  it('decides a request from stdin and from a file', async () => {
    const body = JSON.stringify({
      agent: 'director-agent',
      user: 'bob',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'postgres/drop_table' },
    });
    const r = cordon(['decide', '--policies', EXAMPLE_POLICIES], body);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).decision, 'deny');
    const file = join(await tempDir(), 'req.json');
    await writeFile(file, body.replace('bob', 'carol'));
    assert.equal(
      JSON.parse(cordon(['decide', '--policies', EXAMPLE_POLICIES, '--request', file]).stdout)
        .decision,
      'require_approval',
    );
  });

  it('--engine picks the evaluator: validate says which, both decide alike, others are refused', () => {
    const compiled = cordon(['policy', 'validate', EXAMPLE_POLICIES]);
    assert.equal(compiled.code, 0, compiled.stderr);
    assert.match(compiled.stdout, /engine compiled: \d+ of \d+ policies compiled/);
    const wasm = cordon(['policy', 'validate', '--engine', 'wasm', EXAMPLE_POLICIES]);
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.match(wasm.stdout, /engine wasm: every policy is evaluated by cedar-wasm/);
    for (const user of ['bob', 'carol', 'alice']) {
      const body = JSON.stringify({
        agent: 'director-agent',
        user,
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'postgres/drop_table' },
      });
      const [a, b] = (['compiled', 'wasm'] as const).map(
        (engine) =>
          JSON.parse(
            cordon(['decide', '--engine', engine, '--policies', EXAMPLE_POLICIES], body).stdout,
          ) as { decision: string; reasons: { policy: string }[] },
      );
      assert.equal(a!.decision, b!.decision, user);
      assert.deepEqual(
        a!.reasons.map((r) => r.policy),
        b!.reasons.map((r) => r.policy),
        user,
      );
    }
    const bad = cordon(['decide', '--engine', 'fast', '--policies', EXAMPLE_POLICIES], '{}');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /argument 'fast' is invalid\. Allowed choices are compiled, wasm/);
  });

  it('rejects a malformed request with a message', () => {
    const r = cordon(['decide', '--policies', EXAMPLE_POLICIES], '{"agent": "a"}');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /action: .*resource: /s);
  });

  it('init scaffolds a directory whose tests pass, and will not overwrite it', async () => {
    const dir = join(await tempDir(), 'policies');
    const r = cordon(['init', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /schema\.cedarschema/);
    assert.equal(cordon(['policy', 'test', dir]).code, 0);
    const again = cordon(['init', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /would overwrite/);
  });
});

describe('cordon serve', () => {
  it('serves decisions, reloads an edited policy, and stops on SIGTERM', async () => {
    const dir = await exampleCopy();
    const data = await tempDir();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--policies', dir, '--port', '0', '--data', data],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = createInterface({ input: child.stdout });
    const logs: Record<string, unknown>[] = [];
    const waitFor = (msg: string, match: (l: Record<string, unknown>) => boolean = () => true) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const hit = logs.find((l) => l.msg === msg && match(l));
        if (hit) return resolve(hit);
        const onLine = (line: string) => {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === msg && match(entry)) {
            lines.off('line', onLine);
            resolve(entry);
          }
        };
        lines.on('line', onLine);
        child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
      });
    lines.on('line', (l) => logs.push(JSON.parse(l) as Record<string, unknown>));
    try {
      const { port } = (await waitFor('cordon serving')) as { port: number };
      const decide = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/decide`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            agent: 'ledger-bot',
            action: 'invokeTool',
            resource: { type: 'Tool', id: 'erp/read_ledger' },
          }),
        });
        return (await res.json()) as { decision: string; decisionId: string };
      };
      const first = await decide();
      assert.equal(first.decision, 'allow');
      const logged = await waitFor('decision', (l) => l.decisionId === first.decisionId);
      assert.equal(logged.decision, 'allow');
      assert.equal(logged.input, undefined, 'no input content in logs');

      const reloaded = waitFor('policies reloaded');
      await writeFile(
        join(dir, 'freeze.cedar'),
        'forbid(principal, action, resource == Tool::"erp/read_ledger");\n',
      );
      await reloaded;
      assert.equal((await decide()).decision, 'deny');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});

describe('daily-use options', () => {
  it('decide --fail exits 2 on deny (0 on allow), for scripts', async () => {
    const side = fileURLToPath(new URL('../../examples/requests/side-door.json', import.meta.url));
    const r = cordon(['decide', '--policies', EXAMPLE_POLICIES, '--request', side, '--fail']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { decision: string }).decision, 'deny');
    assert.equal(cordon(['decide', '--policies', EXAMPLE_POLICIES, '--request', side]).code, 0);
  });

  it('policy validate --json and policy test --json print one JSON document', async () => {
    const v = cordon(['policy', 'validate', '--json', EXAMPLE_POLICIES]);
    assert.equal(v.code, 0, v.stderr);
    const view = JSON.parse(v.stdout) as { valid: boolean; policies: number; version: string };
    assert.equal(view.valid, true);
    assert.equal(view.policies, await examplePolicyCount());
    const bad = await tempDir();
    await writeFile(join(bad, 'p.cedar'), 'permit(principal, action, resource) when { ; };\n');
    const b = cordon(['policy', 'validate', '--json', bad]);
    assert.equal(b.code, 1);
    const errs = JSON.parse(b.stdout) as {
      valid: boolean;
      errors: { file: string; line: number }[];
    };
    assert.equal(errs.valid, false);
    assert.equal(errs.errors[0]?.file, 'p.cedar');
    const t = cordon(['policy', 'test', '--json', EXAMPLE_POLICIES]);
    assert.equal(t.code, 0, t.stderr);
    const report = JSON.parse(t.stdout) as { passed: number; failed: number; cases: unknown[] };
    assert.equal(report.failed, 0);
    assert.equal(report.cases.length, report.passed);
  });

  it('policy test --junit writes JUnit XML naming the failed case and why', async () => {
    const dir = await exampleCopy();
    const file = join(dir, 'tests', 'zz.yaml');
    await writeFile(
      file,
      'cases:\n  - name: "bob <intern> & co"\n    request: { agent: sre-automation, user: bob, action: invokeTool, resource: { type: Tool, id: "prod-db/drop_table" } }\n    expect: allow\n',
    );
    const xml = join(await tempDir(), 'junit.xml');
    const r = cordon(['policy', 'test', dir, '--junit', xml]);
    assert.equal(r.code, 1);
    const text = await readFile(xml, 'utf8');
    assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    assert.match(
      text,
      /<testcase classname="tests\/zz\.yaml" name="bob &lt;intern&gt; &amp; co">\n\s+<failure message="expected allow, got deny">/,
    );
    assert.match(text, /<testsuites [^>]*failures="1"/);
  });
});

describe('cordon init --minimal', () => {
  it('writes a schema, one policy, its entities and one test that pass, and will not overwrite them', async () => {
    const dir = join(await tempDir(), 'policies');
    const r = cordon(['init', '--minimal', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('wrote ')).length, 4);
    const t = cordon(['policy', 'test', dir]);
    assert.equal(t.code, 0, t.stdout);
    assert.match(t.stdout, /^2 passed, 0 failed$/m);
    assert.match(cordon(['policy', 'validate', dir]).stdout, /valid: 1 policies.*type-checked/);
    const again = cordon(['init', '--minimal', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^cordon: would overwrite .*\(use --force\)\n$/);
  });
});

describe('policy validate warnings', () => {
  it('warns about an entity reference nothing provides (a typo), and not on the examples', async () => {
    const dir = join(await tempDir(), 'p');
    assert.equal(cordon(['init', '--minimal', dir]).code, 0);
    const file = join(dir, 'policies.cedar');
    await writeFile(
      file,
      `${await readFile(file, 'utf8')}forbid(principal == Agent::"my-agnt", action, resource);\n`,
    );
    const r = cordon(['policy', 'validate', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^policies\.cedar:\d+:\d+ policy "policies\.cedar#1" names Agent::"my-agnt", which is not in entities\.json/m,
    );
    assert.doesNotMatch(
      cordon(['policy', 'validate', EXAMPLE_POLICIES]).stderr,
      /not in entities\.json/,
    );
  });
});

describe('cordon policy explain', () => {
  const side = fileURLToPath(new URL('../../examples/requests/side-door.json', import.meta.url));

  it('shows per principal which policy applied, its scope and the condition that held', () => {
    const r = cordon(['policy', 'explain', EXAMPLE_POLICIES, '--request', side]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: deny/);
    assert.match(
      r.stdout,
      /^user User::"bob", Action::"invokeTool", Tool::"postgres\/drop_table"/m,
    );
    assert.match(r.stdout, /● forbid interns-no-destructive \(sre\.cedar:\d+\): applies/);
    assert.match(r.stdout, /✓ when \{ resource\.destructive \} is true/);
    assert.match(
      r.stdout,
      /· permit finance-payments \(finance\.cedar:\d+\): scope does not match: principal is Agent in Group::"finance-agents"/,
    );
  });

  it('reads the request from stdin and prints JSON with --json', async () => {
    const r = cordon(
      ['policy', 'explain', EXAMPLE_POLICIES, '--json'],
      await readFile(side, 'utf8'),
    );
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout) as {
      decision: { decision: string };
      evaluations: { role: string; policies: { policy: string; result: string }[] }[];
    };
    assert.equal(view.decision.decision, 'deny');
    assert.deepEqual(
      view.evaluations.map((e) => e.role),
      ['agent', 'user'],
    );
    const user = view.evaluations[1]!;
    assert.equal(
      user.policies.find((p) => p.policy === 'interns-no-destructive')?.result,
      'satisfied',
    );
  });

  it('says in one line what is wrong with a request that is not JSON', () => {
    const r = cordon(['policy', 'explain', EXAMPLE_POLICIES], 'not json');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cordon: request is not JSON/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
