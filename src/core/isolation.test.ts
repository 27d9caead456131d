import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { agent, compileOk, engineFor, entities, tempDir, user } from '../testing/fixtures.js';
import { IsolationService } from '../isolation/service.js';
import { SqliteIsolationStore } from '../store/sqlite/isolation.js';
import type { IsolationMeasures } from '../store/ports.js';
import type { Engine } from './engine.js';
import { isolationMeasureFor, mergeIsolation, toolRevoked } from './isolation.js';
import { isolationStage } from './stages/isolation.js';
import type { ActionRequest, Decision } from './types.js';

// Everything is permitted by policy: whatever is refused below, the isolation refused.
const set = compileOk({
  'entities.json': entities([
    agent('bot'),
    agent('helper-bot'),
    user('carol'),
    user('dave'),
    { uid: { type: 'Tool', id: 'gh/push' }, attrs: { readOnly: false }, parents: [] },
    { uid: { type: 'Tool', id: 'gh/read_issue' }, attrs: { readOnly: true }, parents: [] },
    {
      uid: { type: 'Tool', id: 'db/drop' },
      attrs: { readOnly: false },
      parents: [{ type: 'ToolSet', id: 'dangerous' }],
    },
    { uid: { type: 'ToolSet', id: 'dangerous' }, attrs: {}, parents: [] },
  ]),
  'p.cedar': [
    '@id("everything") permit(principal, action, resource);',
    // Policies can read the facts: this one refuses model calls to an agent whose writes were taken away.
    '@id("no-models-when-read-only") forbid(principal, action == Action::"callModel", resource) when { context.isolation.readOnly };',
  ].join('\n'),
});

const req = (action: string, type: string, id: string, r: Partial<ActionRequest> = {}) =>
  ({ agent: 'bot', action, resource: { type, id }, ...r }) as ActionRequest;
const call = (tool: string, r: Partial<ActionRequest> = {}) => req('invokeTool', 'Tool', tool, r);

let dir: string;
let store: SqliteIsolationStore;
let service: IsolationService;
let engine: Engine;

before(async () => {
  dir = await tempDir();
  store = new SqliteIsolationStore(dir);
  service = await IsolationService.open({ store });
  engine = engineFor(set, { stages: [isolationStage(service)] });
});
after(() => {
  service.close();
  store.close();
});

async function isolate(
  measures: IsolationMeasures,
  scope: { user?: string; session?: string } = {},
) {
  await service.apply({
    agent: 'bot',
    ...scope,
    measures,
    reason: 'ticket 4711 injection',
    by: 'alice',
  });
}
const release = () => service.release({ agent: 'bot' }, 'alice');

function refusedByIsolation(d: Decision, measure: RegExp): void {
  assert.equal(d.decision, 'deny');
  assert.equal(d.reasons.length, 1);
  assert.equal(d.reasons[0]?.policy, 'cordon/isolation');
  assert.match(d.reasons[0]?.message ?? '', measure);
  // The reason names the isolation and why it was applied.
  assert.match(
    d.reasons[0]?.message ?? '',
    /agent "bot" is isolated .*applied by alice: ticket 4711 injection/,
  );
}

/** Each case: refused while isolated, allowed before and after release. */
async function refusedOnlyWhileIsolated(
  measures: IsolationMeasures,
  request: ActionRequest,
  measure: RegExp,
): Promise<void> {
  assert.equal((await engine.decide(request)).decision, 'allow');
  await isolate(measures);
  refusedByIsolation(await engine.decide(request), measure);
  await release();
  assert.equal((await engine.decide(request)).decision, 'allow');
}

describe('isolation in the decision path: each measure refuses its actions, and only while applied', () => {
  it('a revoked tool is refused, for calls and for listing', async () => {
    await refusedOnlyWhileIsolated(
      { revokedTools: ['gh/push'] },
      call('gh/push'),
      /tool gh\/push is revoked/,
    );
    await refusedOnlyWhileIsolated(
      { revokedTools: ['gh/push'] },
      req('listTools', 'Tool', 'gh/push'),
      /tool gh\/push is revoked/,
    );
  });

  it('a revoked tool leaves the agent its other tools', async () => {
    await isolate({ revokedTools: ['gh/push'] });
    assert.equal((await engine.decide(call('gh/read_issue'))).decision, 'allow');
    assert.equal((await engine.decide(call('db/drop'))).decision, 'allow');
    await release();
  });

  it('a server pattern and a tool set revoke every tool they cover', async () => {
    await refusedOnlyWhileIsolated({ revokedTools: ['gh/*'] }, call('gh/read_issue'), /revoked/);
    await refusedOnlyWhileIsolated(
      { revokedTools: ['ToolSet::dangerous'] },
      call('db/drop'),
      /revoked/,
    );
  });

  it('read-only refuses tools not marked read-only, file writes and exec, and keeps reads', async () => {
    await refusedOnlyWhileIsolated({ readOnly: true }, call('gh/push'), /not marked read-only/);
    await refusedOnlyWhileIsolated(
      { readOnly: true },
      req('writeFile', 'FilePath', '/w/a'),
      /read-only: writeFile/,
    );
    await refusedOnlyWhileIsolated(
      { readOnly: true },
      req('exec', 'FilePath', '/bin/sh'),
      /read-only: exec/,
    );
    await isolate({ readOnly: true });
    assert.equal((await engine.decide(call('gh/read_issue'))).decision, 'allow');
    assert.equal((await engine.decide(req('readFile', 'FilePath', '/w/a'))).decision, 'allow');
    await release();
  });

  it('no egress refuses connectNetwork, httpRequest and sendExternal, and keeps the workspace', async () => {
    for (const action of ['connectNetwork', 'httpRequest', 'sendExternal'])
      await refusedOnlyWhileIsolated(
        { egress: 'none' },
        req(action, 'NetworkDestination', 'paste.example.com:443'),
        /network egress is cut/,
      );
    await isolate({ egress: 'none' });
    assert.equal((await engine.decide(req('readFile', 'FilePath', '/w/ticket'))).decision, 'allow');
    assert.equal((await engine.decide(call('gh/push'))).decision, 'allow');
    await release();
  });

  it('no egress refuses a tool call naming a destination in any argument, at any depth', async () => {
    // Whatever the argument is called: a URL with a network scheme anywhere, or a host under a
    // key that names one.
    for (const input of [
      { url: 'https://paste.example.com/x' },
      { target: 'https://paste.example.com:8443/x' },
      { request: { options: { webhookUrl: 'paste.example.com:443' } } },
      { messages: [{ to: 'wss://paste.example.com/socket' }] },
      { conn: 'postgres://db.example.com:5432/prod' },
    ])
      await refusedOnlyWhileIsolated(
        { egress: 'none' },
        call('gh/comment', { input }),
        /network egress is cut/,
      );
    await isolate({ egress: 'none' });
    const local = call('gh/comment', {
      input: { body: 'see https://docs.example in the text', path: '/w/a' },
    });
    assert.equal(
      (await engine.decide(local)).decision,
      'allow',
      'prose and paths are no destination',
    );
    await release();
  });

  it('egress limited to the baseline refuses a destination no baseline vouches for (fail closed)', async () => {
    await refusedOnlyWhileIsolated(
      { egress: 'baseline' },
      req('connectNetwork', 'NetworkDestination', 'paste.example.com:443'),
      /limited to the agent's baseline/,
    );
  });

  it('egress limited to the baseline lets through a destination the baseline holds, where baselines compare', async () => {
    const out = req('connectNetwork', 'NetworkDestination', 'api.example.com:443');
    const novel = (destination: boolean, mode = 'monitor') => ({
      baseline: {
        mode,
        novel: {
          tool: false,
          model: false,
          destination,
          path: false,
          dataset: false,
          delegate: false,
        },
      },
    });
    await isolate({ egress: 'baseline' });
    assert.equal((await engine.decide(out, novel(false))).decision, 'allow');
    assert.equal((await engine.decide(out, novel(true))).decision, 'deny');
    // In learn mode nothing is novel: no baseline vouches for anything, so it is refused.
    assert.equal((await engine.decide(out, novel(false, 'learn'))).decision, 'deny');
    await release();
  });

  it('no delegation refuses delegating and minting, and delegating to the isolated agent', async () => {
    await refusedOnlyWhileIsolated(
      { noDelegation: true },
      req('delegate', 'Agent', 'helper-bot'),
      /delegation is refused/,
    );
    await refusedOnlyWhileIsolated(
      { noDelegation: true },
      req('mintToken', 'Audience', 'faq'),
      /delegation is refused/,
    );
    const toBot = req('delegate', 'Agent', 'bot', { agent: 'helper-bot' });
    assert.equal((await engine.decide(toBot)).decision, 'allow');
    await isolate({ noDelegation: true });
    const d = await engine.decide(toBot);
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/isolation');
    assert.match(
      d.reasons[0]?.message ?? '',
      /delegation target agent "bot" is isolated \(nothing is delegated to it\)/,
    );
    await release();
    assert.equal((await engine.decide(toBot)).decision, 'allow');
  });

  it('full isolation refuses everything, reads and model calls included', async () => {
    for (const r of [
      call('gh/read_issue'),
      req('readFile', 'FilePath', '/w/a'),
      req('callModel', 'Model', 'gpt'),
      req('listTools', 'Tool', 'gh/read_issue'),
    ])
      await refusedOnlyWhileIsolated({ full: true }, r, /full isolation/);
  });

  it('other agents keep working while one is isolated', async () => {
    await isolate({ full: true });
    assert.equal((await engine.decide(call('gh/push', { agent: 'helper-bot' }))).decision, 'allow');
    await release();
  });

  it('a state for one user or one session applies there only', async () => {
    await isolate({ egress: 'none' }, { user: 'carol' });
    const out = (u: string) =>
      req('connectNetwork', 'NetworkDestination', 'x.example:443', { user: u });
    assert.equal((await engine.decide(out('carol'))).decision, 'deny');
    assert.equal((await engine.decide(out('dave'))).decision, 'allow');
    await release();
    await isolate({ egress: 'none' }, { session: 's1' });
    const inSession = (s: string) =>
      req('connectNetwork', 'NetworkDestination', 'x.example:443', { session: s });
    assert.equal((await engine.decide(inSession('s1'))).decision, 'deny');
    assert.equal((await engine.decide(inSession('s2'))).decision, 'allow');
    await release();
  });

  it('puts the facts in context.isolation for policies, and in the decision trace', async () => {
    assert.equal((await engine.decide(req('callModel', 'Model', 'gpt'))).decision, 'allow');
    await isolate({ readOnly: true });
    const t = await engine.trace(req('callModel', 'Model', 'gpt'));
    assert.equal(t.decision.decision, 'deny');
    assert.equal(t.decision.reasons[0]?.policy, 'no-models-when-read-only');
    assert.equal(t.facts.isolation?.readOnly, true);
    assert.equal(t.facts.isolation?.by, 'alice');
    await release();
  });

  it('replay pins the recorded facts: the same action is refused with no isolation store', async () => {
    const bare = engineFor(set);
    const facts = mergeIsolation([
      {
        agent: 'bot',
        measures: { egress: 'none' },
        reason: 'r',
        by: 'risk:high',
        at: '2026-01-01T00:00:00Z',
      },
    ])!;
    const d = await bare.decide(req('httpRequest', 'NetworkDestination', 'x.example:443'), {
      isolation: facts,
    });
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/isolation');
  });
});

describe('merging isolation states', () => {
  it('takes the union of what every state takes away', () => {
    const f = mergeIsolation([
      {
        agent: 'a',
        measures: { revokedTools: ['x/y'], egress: 'baseline' },
        reason: 'one',
        by: 'p',
        at: 't',
      },
      {
        agent: 'a',
        user: 'u',
        measures: { egress: 'none', noDelegation: true },
        reason: 'two',
        by: 'q',
        at: 't',
      },
    ]);
    assert.deepEqual(f, {
      active: true,
      full: false,
      readOnly: false,
      egress: 'none',
      noEgress: true,
      noDelegation: true,
      revokedTools: ['x/y'],
      reason: 'one; two',
      by: 'p, q',
    });
    assert.equal(mergeIsolation([]), undefined);
  });

  it('matches tool patterns without treating their other characters as patterns', () => {
    assert.ok(toolRevoked(['gh/*'], 'gh/push'));
    assert.ok(!toolRevoked(['gh/*'], 'ghx/push'));
    assert.ok(!toolRevoked(['g.h/*'], 'gxh/push'));
    assert.ok(
      toolRevoked(['ToolSet::"dangerous"'], 'db/drop', [{ type: 'ToolSet', id: 'dangerous' }]),
    );
  });

  it('egress cut refuses a tool call whose arguments name a destination, not the other tools', () => {
    const iso = mergeIsolation([
      { agent: 'a', measures: { egress: 'none' }, reason: 'r', by: 'p', at: 't' },
    ])!;
    const post = { type: 'Tool', id: 'helpdesk/post', attrs: {} };
    assert.equal(
      isolationMeasureFor(iso, 'invokeTool', post, undefined, true),
      'network egress is cut',
    );
    assert.equal(isolationMeasureFor(iso, 'invokeTool', post, undefined, false), undefined);
    assert.equal(isolationMeasureFor(iso, 'listTools', post), undefined);
  });
});
