// `cordon demo [STORY]`: starts the demo world in a temporary directory, runs the stories (all,
// or the one named), prints what each layer saw and decided as it happens, then a pass/fail
// table and the command that verifies the log. Exit 1 when a story fails. The directory is
// kept, so the log can be verified and read afterwards.

import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../cli/errors.js';
import { EXAMPLE_POLICIES } from '../policy/scaffold.js';
import { DemoEnv } from './env.js';
import { formatEvent, formatHeader, formatList, formatTable } from './report.js';
import { STORIES } from './stories.js';
import { runStory, type StoryResult } from './story.js';

export interface DemoFlags {
  list?: boolean;
  json?: boolean;
  policies?: string;
  dir?: string;
}

export interface DemoReport {
  ok: boolean;
  dir: string;
  stories: StoryResult[];
  verify: string;
}

export async function demo(story: string | undefined, o: DemoFlags, exit: (code: number) => void) {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (o.list) {
    if (o.json)
      out(
        JSON.stringify(
          STORIES.map(({ id, title, seed, summary }) => ({ id, title, seed, summary })),
        ),
      );
    else out(formatList(STORIES));
    return exit(0);
  }
  const chosen = story === undefined ? STORIES : STORIES.filter((s) => s.id === story);
  if (chosen.length === 0)
    throw new UserError(
      `no story "${story}": one of ${STORIES.map((s) => s.id).join(', ')} (cordon demo --list)`,
    );
  const policies = resolve(o.policies ?? EXAMPLE_POLICIES);
  if (!existsSync(policies) || !statSync(policies).isDirectory())
    throw new UserError(`--policies ${policies}: not a policy directory`);
  const dir = o.dir ? resolve(o.dir) : await mkdtemp(join(tmpdir(), 'cordon-demo-'));
  if (existsSync(dir) && (await readdir(dir)).length > 0)
    throw new UserError(`--dir ${dir} is not empty: give cordon demo an empty or new directory`);
  let env: DemoEnv;
  try {
    env = await DemoEnv.start({ dir, policies });
  } catch (e) {
    // A directory the demo made for itself goes with the failed start; one the user named stays.
    if (!o.dir) await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const results: StoryResult[] = [];
  try {
    if (!o.json) out(`Cordon demo in ${dir} (policies: ${policies})\n`);
    for (const [i, s] of chosen.entries()) {
      if (!o.json) out(formatHeader(s, STORIES.indexOf(s) + 1));
      const r = await runStory(s, env, (e) => {
        if (!o.json) out(formatEvent(e));
      });
      results.push(r);
      if (!o.json && r.status === 'skip') out(`   skipped: ${r.reason ?? ''}`);
      if (!o.json && r.reason && r.status === 'fail') out(`   FAILED: ${r.reason}`);
      if (!o.json && i < chosen.length - 1) out('');
    }
  } finally {
    await env.close();
  }
  const vkey = join(dir, 'audit.vkey');
  if (!existsSync(vkey)) await cp(join(env.data, 'keys', 'audit.vkey'), vkey);
  // --min-size: the log must still hold at least what the demo wrote (a rollback is caught too).
  const size = await logSize(env.data);
  const verify = `cordon audit verify --data ${env.data} --key ${vkey} --min-size ${size}`;
  const ok = results.every((r) => r.status !== 'fail');
  if (o.json) {
    const report: DemoReport = { ok, dir, stories: results, verify };
    out(JSON.stringify(report));
  } else {
    out('');
    out(formatTable(results));
    out('');
    out(
      'Verify the decision log yourself (the verifier key was pinned outside the data directory):',
    );
    out(`  ${verify}`);
    out(`Everything is in ${dir} (remove it with: rm -rf ${dir})`);
  }
  exit(ok ? 0 : 1);
}

/** The records in the closed log (what its newest checkpoint covers once closed). */
async function logSize(data: string): Promise<number> {
  const { AUDIT_DB } = await import('../audit/log.js');
  const { SqliteAuditStore } = await import('../audit/sqlite-store.js');
  const store = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
  try {
    return store.count();
  } finally {
    store.close();
  }
}
