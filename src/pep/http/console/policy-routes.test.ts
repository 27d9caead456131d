import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleBrowser, consoleApp, type ConsoleTestApp } from '../../../testing/console.js';
import { EXAMPLE_POLICIES } from '../../../testing/fixtures.js';

let t: ConsoleTestApp;
let admin: ConsoleBrowser;
let carol: ConsoleBrowser;
let files: { file: string; text: string }[];

before(async () => {
  t = await consoleApp({ console: { policyDir: () => EXAMPLE_POLICIES } });
  admin = new ConsoleBrowser(t.base);
  const res = await fetch(`${t.base}/v1/console/sign-in-tokens`, {
    method: 'POST',
    headers: t.admin,
  });
  const { signInToken } = (await res.json()) as { signInToken: string };
  assert.equal((await admin.signIn({ signInToken })).status, 201);
  carol = new ConsoleBrowser(t.base);
  assert.equal((await carol.signIn({ idToken: await t.idToken('carol') })).status, 201);
  const set = await admin.call('GET', '/v1/console/policies');
  assert.equal(set.status, 200);
  files = ((await set.json()) as { files: typeof files }).files;
});
after(async () => t.close());

const edited = (file: string, change: (text: string) => string) =>
  files.map((f) => (f.file === file ? { ...f, text: change(f.text) } : f));

describe('the policy playground', () => {
  it('lists the serving set with its sources, located policies and tests', async () => {
    const res = await admin.call('GET', '/v1/console/policies');
    const set = (await res.json()) as {
      version: string;
      editable: boolean;
      policies: { id: string; file: string; line: number }[];
    };
    assert.equal(set.version, t.decisions.engine.policies.version);
    assert.equal(set.editable, false);
    assert.ok(files.some((f) => f.file === 'schema.cedarschema'));
    assert.ok(files.some((f) => f.file === 'tests/control.yaml'));
    const p = set.policies.find((x) => x.id === 'finance-readonly-tools')!;
    assert.equal(p.file, 'finance.cedar');
  });

  it('validates an edited copy with located errors, serving nothing', async () => {
    const ok = await admin.call('POST', '/v1/console/policies/validate', { body: { files } });
    assert.deepEqual(
      { ...((await ok.json()) as object), warnings: [] },
      { ok: true, version: t.decisions.engine.policies.version, errors: [], warnings: [] },
    );
    const broken = edited('finance.cedar', (s) => s.replace('permit (', 'permit ((('));
    const res = await admin.call('POST', '/v1/console/policies/validate', {
      body: { files: broken },
    });
    assert.equal(res.status, 200);
    const v = (await res.json()) as {
      ok: boolean;
      errors: { file: string; line: number; column: number; location: string }[];
    };
    assert.equal(v.ok, false);
    assert.equal(v.errors[0]!.file, 'finance.cedar');
    assert.match(v.errors[0]!.location, /^finance\.cedar:\d+:\d+$/);
    assert.equal(v.errors[0]!.line, 4, 'the line of the broken permit');
    assert.equal(
      t.decisions.engine.policies.version,
      ((await (await admin.call('GET', '/v1/console/policies')).json()) as { version: string })
        .version,
      'still serving the same set',
    );
  });

  it('runs the policy tests against the copy', async () => {
    const res = await admin.call('POST', '/v1/console/policies/test', { body: { files } });
    const run = (await res.json()) as { ok: boolean; passed: number; failed: number };
    assert.equal(run.ok, true);
    assert.ok(run.passed > 50);
    // Taking SREs' console access away fails the control tests that expect it.
    const noSre = edited('control.cedar', (s) =>
      s.replace('@id("sre-uses-the-console")\npermit', '@id("sre-uses-the-console")\nforbid'),
    );
    const failing = (await (
      await admin.call('POST', '/v1/console/policies/test', { body: { files: noSre } })
    ).json()) as {
      ok: boolean;
      failed: number;
      results: { name: string; passed: boolean; decision: string }[];
    };
    assert.equal(failing.ok, false);
    const r = failing.results.find((x) => x.name === 'an SRE may sign in to the console')!;
    assert.equal(r.passed, false);
    assert.equal(r.decision, 'deny');
    const badYaml = [...files, { file: 'tests/bad.yaml', text: 'cases: [\n  - :' }];
    const y = (await (
      await admin.call('POST', '/v1/console/policies/test', { body: { files: badYaml } })
    ).json()) as { ok: boolean; errors: { file: string; line: number }[] };
    assert.equal(y.ok, false);
    assert.equal(y.errors[0]!.file, 'tests/bad.yaml');
  });

  it('what-if replays recorded traffic against the copy', async () => {
    await t.decisions.decide({
      agent: 'ledger-bot',
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'erp/read_ledger' },
    });
    const stricter = edited('finance.cedar', (s) =>
      s.replace('@id("finance-readonly-tools")\npermit', '@id("finance-readonly-tools")\nforbid'),
    );
    const res = await admin.call('POST', '/v1/console/policies/whatif', {
      body: { files: stricter, since: '1h' },
    });
    assert.equal(res.status, 200);
    const w = (await res.json()) as {
      total: number;
      changed: number;
      transitions: { transition: string; examples: { agent: string }[] }[];
    };
    assert.ok(w.total >= 1);
    const t1 = w.transitions.find((x) => x.transition === 'allow → deny')!;
    assert.ok(t1.examples.some((e) => e.agent === 'ledger-bot'));
    const broken = edited('finance.cedar', () => 'permit (');
    const bad = await admin.call('POST', '/v1/console/policies/whatif', {
      body: { files: broken },
    });
    assert.equal(bad.status, 422);
  });

  it('refuses a person without editPolicy, and bad bodies', async () => {
    const refused = await carol.call('POST', '/v1/console/policies/validate', { body: { files } });
    assert.equal(refused.status, 403);
    assert.match(
      ((await refused.json()) as { error: string }).error,
      /user carol may not editPolicy/,
    );
    for (const body of [
      {},
      { files: [] },
      { files: [{ file: '../etc/passwd.cedar', text: '' }] },
      { files: [{ file: '/abs.cedar', text: '' }] },
      { files: [{ file: 'notes.txt', text: '' }] },
      {
        files: [
          { file: 'a.cedar', text: '' },
          { file: 'a.cedar', text: '' },
        ],
      },
      { files, since: 'yesterday-ish' },
    ]) {
      const path = 'since' in body ? 'whatif' : 'validate';
      const res = await admin.call('POST', `/v1/console/policies/${path}`, { body });
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    }
    const csrf = await admin.call('POST', '/v1/console/policies/validate', {
      body: { files },
      noCsrf: true,
    });
    assert.equal(csrf.status, 403);
  });
});
