// How a demo story is judged: a step passes only when what it observed is what the story
// expects and the guarding policy is among the recorded reasons; a story the machine cannot
// run is skipped with its reason; a story that throws fails with what it was doing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../audit/record.js';
import type { DemoEnv } from './env.js';
import { runStory, type Story } from './story.js';

/** The two things runStory reads from the world: the log's size and what came after a mark. */
function fakeLog(): { env: DemoEnv; add(policy: string): void } {
  const records: AuditRecord[] = [];
  const env = {
    isClosed: false,
    mark: () => records.length,
    since: (m: number) => Promise.resolve(records.slice(m)),
  } as unknown as DemoEnv;
  return {
    env,
    add(policy) {
      records.push({
        v: 1,
        seq: records.length,
        id: `id-${records.length}`,
        time: '',
        pep: 'mcp',
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'postgres/drop_table' },
        facts: {} as AuditRecord['facts'],
        policyVersion: '',
        decision: 'deny',
        reasons: [{ policy, effect: 'forbid' }],
        obligations: [],
        keyId: '',
      });
    },
  };
}

const story = (run: Story['run'], unavailable?: Story['unavailable']): Story => ({
  id: 't',
  title: 't',
  seed: 's.txt',
  summary: '',
  run,
  ...(unavailable ? { unavailable } : {}),
});

describe('demo stories are judged on what was recorded', () => {
  it('passes a step whose guarding policy is among the recorded reasons', async () => {
    const log = fakeLog();
    const r = await runStory(
      story(async (ctx) => {
        await ctx.step('drop', 'deny', async () => {
          log.add('interns-no-destructive');
          return { observed: 'deny', ok: true, reason: 'interns-no-destructive' };
        });
      }),
      log.env,
      () => {},
    );
    assert.equal(r.status, 'pass');
    assert.equal(r.steps[0]?.seen[0]?.id, 'id-0');
  });

  it('fails a step denied for another reason than the one the story is about', async () => {
    const log = fakeLog();
    const r = await runStory(
      story(async (ctx) => {
        await ctx.step('drop', 'deny', async () => {
          log.add('cordon/default-deny');
          return { observed: 'deny', ok: true, reason: 'interns-no-destructive' };
        });
      }),
      log.env,
      () => {},
    );
    assert.equal(r.status, 'fail');
    assert.match(r.steps[0]!.observed, /interns-no-destructive is not among the recorded reasons/);
  });

  it('skips a story the machine cannot run, with the reason, and runs none of it', async () => {
    let ran = false;
    const r = await runStory(
      story(
        async () => {
          ran = true;
        },
        () => Promise.resolve('Landlock refused: not supported'),
      ),
      fakeLog().env,
      () => {},
    );
    assert.deepEqual([r.status, r.reason, ran], ['skip', 'Landlock refused: not supported', false]);
  });

  it('fails a story whose step throws, keeping the error as what was observed', async () => {
    const r = await runStory(
      story(async (ctx) => {
        await ctx.step('call', 'allow', () => Promise.reject(new Error('upstream exited')));
      }),
      fakeLog().env,
      () => {},
    );
    assert.equal(r.status, 'fail');
    assert.equal(r.steps[0]?.observed, 'error: upstream exited');
  });

  it('fails a story that stops outside a step, saying so', async () => {
    const r = await runStory(
      story(() => Promise.reject(new Error('no MCP server'))),
      fakeLog().env,
      () => {},
    );
    assert.deepEqual([r.status, r.reason], ['fail', 'the story stopped: no MCP server']);
  });

  it('counts a step a machine cannot check as skipped, not passed', async () => {
    const r = await runStory(
      story(async (ctx) => {
        await ctx.step('connect', 'refused', async () => ({
          observed: 'ok',
          ok: false,
          skip: 'IP egress needs root',
        }));
      }),
      fakeLog().env,
      () => {},
    );
    assert.equal(r.status, 'pass');
    assert.equal(r.steps[0]?.status, 'skip');
    assert.match(r.steps[0]!.observed, /not checked: IP egress needs root/);
  });
});
