import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agent, compileOk, engineFor, entities, exampleEngine, user } from '../testing/fixtures.js';
import type { Stage } from './pipeline.js';
import type { ActionRequest } from './types.js';

const tool = (id: string) => ({ type: 'Tool', id });
const req = (r: Partial<ActionRequest>): ActionRequest => ({
  agent: 'bot',
  action: 'invokeTool',
  resource: tool('t'),
  ...r,
});

const basicEntities = entities([
  agent('bot', [{ type: 'Group', id: 'ops' }]),
  user('admin', [{ type: 'Role', id: 'admin' }]),
  user('guest'),
  { uid: tool('t'), attrs: { danger: true }, parents: [] },
]);

describe('confused deputy: agent and user must both be permitted', () => {
  const set = compileOk({
    'entities.json': basicEntities,
    'p.cedar': [
      '@id("ops-agents") permit(principal in Group::"ops", action, resource);',
      '@id("admins") permit(principal in Role::"admin", action, resource);',
    ].join('\n'),
  });
  const engine = engineFor(set);

  it('allows when the agent acts alone and is permitted', async () => {
    assert.equal((await engine.decide(req({}))).decision, 'allow');
  });

  it('allows when both the agent and the user are permitted', async () => {
    const d = await engine.decide(req({ user: 'admin' }));
    assert.equal(d.decision, 'allow');
    assert.deepEqual(
      d.reasons.map((r) => [r.policy, r.principal]),
      [
        ['ops-agents', 'agent'],
        ['admins', 'user'],
      ],
    );
  });

  it('denies when the agent is permitted but the user it acts for is not', async () => {
    const d = await engine.decide(req({ user: 'guest' }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/default-deny');
    assert.equal(d.reasons[0]?.principal, 'user');
  });

  it('denies unknown agents and unknown users', async () => {
    for (const r of [req({ agent: 'ghost' }), req({ user: 'ghost' })]) {
      const d = await engine.decide(r);
      assert.equal(d.decision, 'deny');
      assert.equal(d.reasons[0]?.policy, 'cordon/unknown-principal');
    }
  });

  it('refuses a delegation token it cannot verify (fails closed)', async () => {
    const d = await engine.decide(req({ token: 'eyJhbGciOiJub25lIn0.e30.' }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/token-unsupported');
  });
});

describe('fail closed', () => {
  it('denies when a forbid policy errors (Cedar alone would skip it and allow)', async () => {
    const set = compileOk({
      'entities.json': basicEntities,
      'p.cedar': [
        '@id("all") permit(principal, action, resource);',
        '@id("needs-attr") forbid(principal, action, resource) when { resource.missing == 1 };',
      ].join('\n'),
    });
    const d = await engineFor(set).decide(req({}));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'needs-attr');
    assert.match(d.reasons[0]?.message ?? '', /forbid policy errored/);
    assert.equal(d.errors?.[0]?.policy, 'needs-attr');
  });

  it('reports an erroring permit and still decides on the others', async () => {
    const set = compileOk({
      'entities.json': basicEntities,
      'p.cedar': [
        '@id("broken") permit(principal, action, resource) when { resource.missing == 1 };',
        '@id("fine") permit(principal, action, resource) when { resource.danger };',
      ].join('\n'),
    });
    const d = await engineFor(set).decide(req({}));
    assert.equal(d.decision, 'allow');
    assert.deepEqual(
      d.errors?.map((e) => e.policy),
      ['broken'],
    );
  });

  it('denies with a reason when a stage throws', async () => {
    const set = compileOk({
      'entities.json': basicEntities,
      'p.cedar': 'permit(principal, action, resource);',
    });
    const broken: Stage = { name: 'broken', run: () => Promise.reject(new Error('store down')) };
    const d = await engineFor(set, { stages: [broken] }).decide(req({}));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/internal-error');
    assert.match(d.reasons[0]?.message ?? '', /store down/);
  });

  it('denies a context value Cedar cannot represent instead of throwing', async () => {
    const set = compileOk({
      'entities.json': basicEntities,
      'p.cedar': 'permit(principal, action, resource) unless { context.ratio == 1 };',
    });
    const d = await engineFor(set).decide(req({ context: { ratio: 0.5 } }));
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/request-error');
  });
});

describe('progressive outcomes', () => {
  const files = {
    'entities.json': basicEntities,
    'p.cedar': [
      '@id("ops") permit(principal in Group::"ops", action, resource);',
      '@id("gate") @outcome("require_approval") forbid(principal, action == Action::"invokeTool", resource) when { resource.danger };',
      '@id("quarantine") @outcome("isolate") forbid(principal, action == Action::"readSecret", resource);',
      '@id("narrow") @outcome("restrict") forbid(principal, action == Action::"sendExternal", resource);',
    ].join('\n'),
  };
  const engine = engineFor(compileOk(files));

  it('turns an annotated forbid into require_approval when approval would let it through', async () => {
    const d = await engine.decide(req({}));
    assert.equal(d.decision, 'require_approval');
    assert.deepEqual(
      d.reasons.map((r) => r.policy),
      ['gate'],
    );
  });

  it('allows once an approval is on record', async () => {
    const d = await engine.decide(req({}), { approval: { granted: true, by: 'alice' } });
    assert.equal(d.decision, 'allow');
  });

  it('never offers approval for a request no policy permits', async () => {
    const d = await engine.decide(req({ user: 'guest' }));
    assert.equal(d.decision, 'deny');
    const d2 = await engine.decide(req({ user: 'guest' }), {
      approval: { granted: true, by: 'alice' },
    });
    assert.equal(d2.decision, 'deny');
  });

  it('turns restrict and isolate into obligations on a deny', async () => {
    const iso = await engine.decide(
      req({ action: 'readSecret', resource: { type: 'Secret', id: 's' } }),
    );
    assert.equal(iso.decision, 'deny');
    assert.deepEqual(iso.obligations, [{ type: 'isolate', policy: 'quarantine' }]);
    const res = await engine.decide(
      req({ action: 'sendExternal', resource: { type: 'Host', id: 'x' } }),
    );
    assert.deepEqual(res.obligations, [{ type: 'restrict', policy: 'narrow' }]);
  });

  it('applies the risk tier table on top of an allow', async () => {
    const scored = (score: number): Stage => ({
      name: 'risk',
      run: (s) => void (s.facts.risk.score = score),
    });
    const readSecretOk = compileOk({
      'entities.json': basicEntities,
      'p.cedar': 'permit(principal, action, resource);',
    });
    const at = async (score: number) =>
      engineFor(readSecretOk, { stages: [scored(score)] }).decide(req({}));
    assert.equal((await at(10)).decision, 'allow');
    const medium = await at(50);
    assert.equal(medium.decision, 'require_approval');
    assert.equal(medium.risk.level, 'medium');
    const high = await at(75);
    assert.equal(high.decision, 'deny');
    assert.equal(high.obligations[0]?.type, 'restrict');
    const critical = await at(95);
    assert.equal(critical.obligations[0]?.type, 'isolate');
  });

  it('in monitor mode, baseline deviations raise the score but never trigger the tier table alone', async () => {
    const anyone = compileOk({
      'entities.json': basicEntities,
      'p.cedar': 'permit(principal, action, resource);',
    });
    // A novel item and a burst: 45 points, over the medium threshold (40), all from the baseline.
    const deviating = (
      mode: string,
      extra: { name: string; value: number; weight: number }[] = [],
    ): Stage => ({
      name: 'baseline-and-risk',
      run: (s) => {
        s.facts.baseline = {
          mode,
          novel: {
            tool: true,
            model: false,
            destination: false,
            path: false,
            dataset: false,
            delegate: false,
          },
          deviation: 100,
          rateRatio: 500,
        };
        const signals = [
          { name: 'baseline.deviation', value: 1, weight: 35 },
          { name: 'baseline.rate', value: 1, weight: 10 },
          ...extra,
        ];
        s.facts.risk.signals = signals;
        s.facts.risk.score = signals.reduce((t, x) => t + x.value * x.weight, 0);
      },
    });
    const at = (stage: Stage) => engineFor(anyone, { stages: [stage] }).decide(req({}));
    const monitored = await at(deviating('monitor'));
    assert.equal(monitored.decision, 'allow', 'monitor: a deviation alone is no denial');
    assert.equal(monitored.risk.score, 45, 'the score still says how unusual it was');
    assert.equal(monitored.risk.level, 'medium');
    assert.equal((await at(deviating('enforce'))).decision, 'require_approval');
    const withInjection = await at(
      deviating('monitor', [{ name: 'content.injection', value: 1, weight: 50 }]),
    );
    assert.equal(withInjection.decision, 'require_approval', 'other signals still count in full');
  });
});

describe('context', () => {
  const schema = [
    'entity Agent; entity Tool;',
    'type Ctx = { approval: { granted: Bool, by: String }, session: { id: String, labels: Set<String> }, ticket: String, urgent: Bool, note?: String };',
    'action invokeTool appliesTo { principal: Agent, resource: Tool, context: Ctx };',
  ].join('\n');

  it('refuses caller-supplied approval: only Cordon sets reserved keys', async () => {
    const set = compileOk({
      'entities.json': entities([agent('bot')]),
      'p.cedar': 'permit(principal, action, resource) when { context.approval.granted };',
    });
    const d = await engineFor(set).decide(
      req({
        resource: { type: 'Tool', id: 't' },
        context: { approval: { granted: true, by: 'me' } },
      }),
    );
    assert.equal(d.decision, 'deny');
  });

  it('fills schema-declared context keys so policies do not error on absent ones', async () => {
    const set = compileOk({
      'schema.cedarschema': schema,
      'entities.json': entities([agent('bot')]),
      'p.cedar': [
        '@id("p") permit(principal, action, resource) when { context.ticket == "" && !context.urgent };',
        '@id("f") forbid(principal, action, resource) when { context.session.labels.contains("secret") };',
      ].join('\n'),
    });
    const d = await engineFor(set).decide(req({ resource: { type: 'Tool', id: 't' } }));
    assert.equal(d.decision, 'allow');
    assert.equal(d.errors, undefined);
  });

  it('passes undeclared caller keys and the input through to Cedar', async () => {
    const set = compileOk({
      'entities.json': entities([agent('bot')]),
      'p.cedar':
        'permit(principal, action, resource) when { context.channel == "slack" && context.input.path like "/tmp/*" };',
    });
    const e = engineFor(set);
    assert.equal(
      (await e.decide(req({ context: { channel: 'slack' }, input: { path: '/tmp/x' } }))).decision,
      'allow',
    );
    assert.equal(
      (await e.decide(req({ context: { channel: 'slack' }, input: { path: '/etc/x' } }))).decision,
      'deny',
    );
  });

  it('denies actions and resource types the schema does not declare', async () => {
    const set = compileOk({
      'schema.cedarschema': schema,
      'entities.json': entities([agent('bot')]),
      'p.cedar': 'permit(principal, action, resource);',
    });
    const e = engineFor(set);
    assert.equal(
      (await e.decide(req({ action: 'launchMissiles' }))).reasons[0]?.policy,
      'cordon/unknown-action',
    );
    assert.equal(
      (await e.decide(req({ resource: { type: 'Rocket', id: 'r' } }))).reasons[0]?.policy,
      'cordon/unknown-entity-type',
    );
  });
});

describe('resources and hierarchy', () => {
  it('uses the action hierarchy declared in the schema', async () => {
    const set = compileOk({
      'schema.cedarschema':
        'entity Agent; entity Doc; action "reads"; action read in ["reads"] appliesTo { principal: Agent, resource: Doc }; action write appliesTo { principal: Agent, resource: Doc };',
      'entities.json': entities([agent('bot')]),
      'p.cedar': 'permit(principal, action in Action::"reads", resource);',
    });
    const e = engineFor(set);
    assert.equal(
      (await e.decide(req({ action: 'read', resource: { type: 'Doc', id: 'd' } }))).decision,
      'allow',
    );
    assert.equal(
      (await e.decide(req({ action: 'write', resource: { type: 'Doc', id: 'd' } }))).decision,
      'deny',
    );
  });

  it('resolves ancestors transitively without shipping them to Cedar', async () => {
    const set = compileOk({
      'entities.json': entities([
        agent('bot', [{ type: 'Team', id: 'a' }]),
        { uid: { type: 'Team', id: 'a' }, attrs: {}, parents: [{ type: 'Org', id: 'o' }] },
        { uid: { type: 'Org', id: 'o' }, attrs: {}, parents: [] },
      ]),
      'p.cedar': 'permit(principal in Org::"o", action, resource in Folder::"root");',
    });
    const e = engineFor(set);
    const d = await e.decide(
      req({
        resource: { type: 'Doc', id: 'd', parents: [{ type: 'Folder', id: 'root' }] },
        trustedFor: ['Doc'],
      }),
    );
    assert.equal(d.decision, 'allow');
    assert.equal((await e.decide(req({ resource: { type: 'Doc', id: 'd' } }))).decision, 'deny');
  });

  it('derives FilePath.path and NetworkDestination host/port from the id', async () => {
    const set = compileOk({
      'entities.json': entities([agent('bot')]),
      'p.cedar': [
        'permit(principal, action == Action::"readFile", resource) when { resource.path like "/work/*" };',
        'permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "::1" && resource.port == 8443 };',
      ].join('\n'),
    });
    const e = engineFor(set);
    assert.equal(
      (await e.decide(req({ action: 'readFile', resource: { type: 'FilePath', id: '/work/a' } })))
        .decision,
      'allow',
    );
    assert.equal(
      (await e.decide(req({ action: 'readFile', resource: { type: 'FilePath', id: '/etc/a' } })))
        .decision,
      'deny',
    );
    assert.equal(
      (
        await e.decide(
          req({
            action: 'connectNetwork',
            resource: { type: 'NetworkDestination', id: '[::1]:8443' },
          }),
        )
      ).decision,
      'allow',
    );
  });

  it('trusts the entity store over attributes and parents a caller claims', async () => {
    // Attack: the caller describes a destructive, listed tool as read-only and in a safe set.
    const set = compileOk({
      'entities.json': entities([
        agent('bot'),
        { uid: tool('drop'), attrs: { readOnly: false }, parents: [] },
      ]),
      'p.cedar': [
        'permit(principal, action, resource) when { resource.readOnly };',
        'permit(principal, action, resource in ToolSet::"safe");',
      ].join('\n'),
    });
    const d = await engineFor(set).decide(
      req({
        resource: {
          type: 'Tool',
          id: 'drop',
          attrs: { readOnly: true },
          parents: [{ type: 'ToolSet', id: 'safe' }],
        },
      }),
    );
    assert.equal(d.decision, 'deny');
  });
});

describe('a caller cannot describe a resource into an allowed set', () => {
  const set = compileOk({
    'entities.json': entities([
      agent('bot'),
      {
        uid: { type: 'NetworkDestination', id: 'lynx-gateway.internal:443' },
        attrs: { host: 'lynx-gateway.internal', port: 443 },
        parents: [{ type: 'DestinationSet', id: 'internal' }],
      },
    ]),
    'p.cedar': [
      '@id("workspace") permit(principal, action == Action::"readFile", resource) when { resource.path like "/workspace/*" };',
      '@id("gateway-host") permit(principal, action == Action::"connectNetwork", resource) when { resource.host == "lynx-gateway.internal" };',
      '@id("internal-set") permit(principal, action == Action::"connectNetwork", resource in DestinationSet::"internal");',
      '@id("safe-tools") permit(principal, action == Action::"invokeTool", resource in ToolSet::"safe");',
      '@id("no-loopback") forbid(principal, action == Action::"connectNetwork", resource) when { resource has ip && resource.ip.isLoopback() };',
      '@id("anywhere") permit(principal, action == Action::"sendExternal", resource);',
    ].join('\n'),
  });
  const e = engineFor(set);
  const fields = (d: { ignored?: { field: string }[] }) => d.ignored?.map((i) => i.field) ?? [];

  it('a file path comes from the id, whatever path the caller claims', async () => {
    const d = await e.decide(
      req({
        action: 'readFile',
        resource: { type: 'FilePath', id: '/etc/shadow', attrs: { path: '/workspace/notes' } },
      }),
    );
    assert.equal(d.decision, 'deny');
    assert.deepEqual(fields(d), ['resource.attrs.path']);
  });

  it("a destination's host and port come from the id, whatever the caller claims", async () => {
    const d = await e.decide(
      req({
        action: 'connectNetwork',
        resource: {
          type: 'NetworkDestination',
          id: 'evil.example:443',
          attrs: { host: 'lynx-gateway.internal', port: 443 },
        },
      }),
    );
    assert.equal(d.decision, 'deny');
    assert.deepEqual(fields(d), ['resource.attrs.host']);
  });

  it("an untrusted caller's parents are dropped and reported; a trusted PEP's stand", async () => {
    const claim = {
      action: 'invokeTool',
      resource: { type: 'Tool', id: 'shell', parents: [{ type: 'ToolSet', id: 'safe' }] },
    };
    const d = await e.decide(req(claim));
    assert.equal(d.decision, 'deny');
    assert.deepEqual(d.ignored, [
      {
        field: 'resource.parents',
        reason:
          'set membership comes from entities.json or from an enforcement point trusted for Tool; this caller is not',
      },
    ]);
    // Trust is per type: trusted for NetworkDestination says nothing about tools.
    const other = await e.decide(req({ ...claim, trustedFor: ['NetworkDestination'] }));
    assert.equal(other.decision, 'deny');
    const trusted = await e.decide(req({ ...claim, trustedFor: ['Tool'] }));
    assert.equal(trusted.decision, 'allow');
    assert.equal(trusted.ignored, undefined);
  });

  it('an unknown destination cannot join an allowed set; a listed one is in it', async () => {
    const claim = (id: string) =>
      req({
        action: 'connectNetwork',
        resource: {
          type: 'NetworkDestination',
          id,
          parents: [{ type: 'DestinationSet', id: 'internal' }],
        },
      });
    const d = await e.decide(claim('evil.example:443'));
    assert.equal(d.decision, 'deny');
    assert.deepEqual(fields(d), ['resource.parents']);
    const listed = await e.decide(claim('lynx-gateway.internal:443'));
    assert.equal(listed.decision, 'allow');
    assert.deepEqual(fields(listed), ['resource.parents']); // the store's parents applied
  });

  it('every form the kernel connects to loopback is decided as loopback', async () => {
    for (const id of [
      '0.0.0.0:22',
      '[::]:22',
      '[::ffff:0.0.0.0]:22',
      '[::ffff:7f00:1]:22',
      '0:22',
      '127.1:22',
      '0x7f000001:22',
    ]) {
      const d = await e.decide(
        req({
          action: 'connectNetwork',
          resource: { type: 'NetworkDestination', id },
          trustedFor: [],
        }),
      );
      assert.equal(d.decision, 'deny', id);
      assert.deepEqual(
        d.reasons.map((r) => r.policy),
        ['no-loopback'],
        id,
      );
    }
  });

  it('a destination that is neither an address nor a name is refused', async () => {
    const d = await e.decide(
      req({ action: 'sendExternal', resource: { type: 'NetworkDestination', id: '1.2.3.4.5:80' } }),
    );
    assert.equal(d.decision, 'deny');
    assert.equal(d.reasons[0]?.policy, 'cordon/invalid-resource');
  });
});

describe('example policies (the seeds)', () => {
  it('decides the SRE side door for the intern and for the SRE', async () => {
    const e = await exampleEngine();
    const drop = { type: 'Tool', id: 'postgres/drop_table' };
    const bob = await e.decide({
      agent: 'director-agent',
      user: 'bob',
      action: 'invokeTool',
      resource: drop,
    });
    assert.equal(bob.decision, 'deny');
    assert.ok(
      bob.reasons.some((r) => r.policy === 'interns-no-destructive' && r.principal === 'user'),
    );
    const carol = await e.decide({
      agent: 'director-agent',
      user: 'carol',
      action: 'invokeTool',
      resource: drop,
    });
    assert.equal(carol.decision, 'require_approval');
    assert.match(carol.policyVersion, /^sha256:/);
    assert.match(carol.decisionId, /^[0-9a-f-]{36}$/);
  });
});
