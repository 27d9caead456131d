import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../audit/log.js';
import type { AuditRecord } from '../audit/record.js';
import type { ActionRequest } from '../core/types.js';
import { tempDir } from '../testing/fixtures.js';
import { isolatedDecisions } from '../testing/isolation.js';

// A policy that restricts on exfiltration, a permit for everything else: what the agent loses
// after the refused post, the restriction took away.
const POLICIES = `
permit (principal == Agent::"support-bot", action, resource);
@id("no-paste-sites")
@outcome("restrict")
forbid (principal, action == Action::"connectNetwork", resource)
when { resource.host == "paste.example.com" };
`;

const out = (host: string, r: Partial<ActionRequest> = {}): ActionRequest => ({
  agent: 'support-bot',
  action: 'connectNetwork',
  resource: { type: 'NetworkDestination', id: `${host}:443` },
  ...r,
});
const read = (): ActionRequest => ({
  agent: 'support-bot',
  action: 'readFile',
  resource: { type: 'FilePath', id: '/tickets/4711.txt' },
});

describe('restrict and isolate responses become isolation states', () => {
  let ctx: Awaited<ReturnType<typeof isolatedDecisions>>;
  let log: AuditLog;
  before(async () => {
    log = await AuditLog.open(await tempDir('cordon-iso-audit-'), {
      checkpointIntervalMs: 3_600_000,
    });
    ctx = await isolatedDecisions(POLICIES, { log });
  });
  after(async () => {
    ctx.close();
    await log.close();
  });
  const records = () => log.store.tail(100).map((r) => JSON.parse(r.record) as AuditRecord);

  it('@outcome("restrict") cuts the agent\'s egress on its very next action, and it keeps reading', async () => {
    assert.equal((await ctx.decisions.decide(out('api.example.com'))).decision, 'allow');
    const refused = await ctx.decisions.decide(out('paste.example.com'));
    assert.equal(refused.decision, 'deny');
    assert.deepEqual(refused.obligations, [{ type: 'restrict', policy: 'no-paste-sites' }]);

    const [state] = ctx.isolation.list('support-bot');
    assert.equal(state?.by, 'policy:no-paste-sites');
    assert.equal(state?.decisionId, refused.decisionId);
    assert.deepEqual(state?.measures, { egress: 'none' });
    assert.match(
      state?.reason ?? '',
      /policy no-paste-sites \(@outcome\("restrict"\)\) refused connectNetwork/,
    );

    const next = await ctx.decisions.decide(out('api.example.com'));
    assert.equal(next.decision, 'deny');
    assert.equal(next.reasons[0]?.policy, 'cordon/isolation');
    assert.match(
      next.reasons[0]?.message ?? '',
      /network egress is cut\); applied by policy:no-paste-sites/,
    );
    assert.equal((await ctx.decisions.decide(read())).decision, 'allow');
    const delegate = await ctx.decisions.decide({
      agent: 'support-bot',
      action: 'delegate',
      resource: { type: 'Agent', id: 'faq-agent' },
    });
    // Surgical: the default restrict cuts egress only; delegation (and the tokens the agent
    // connects with) stay.
    assert.equal(delegate.decision, 'allow');

    // The log holds the chain: the refused action, then the isolation naming it as parent.
    const recs = records();
    const iso = recs.find((r) => r.kind === 'isolation');
    assert.equal(iso?.parent, refused.decisionId);
    assert.equal(iso?.agent, 'support-bot');
    assert.equal((iso?.context?.isolation as { change: string }).change, 'applied');
    assert.ok(recs.some((r) => r.id === refused.decisionId && r.decision === 'deny'));

    await ctx.isolation.release({ agent: 'support-bot' }, 'alice', 'investigated');
    assert.equal((await ctx.decisions.decide(out('api.example.com'))).decision, 'allow');
    const released = records().find(
      (r) =>
        r.kind === 'isolation' &&
        (r.context?.isolation as { change: string }).change === 'released',
    );
    assert.ok(released, 'the release is a record too');
  });

  it('a listing that meets the restricting policy isolates nobody', async () => {
    const d = await ctx.decisions.decideVisibility(out('paste.example.com'));
    assert.equal(d.decision, 'deny');
    assert.deepEqual(ctx.isolation.list('support-bot'), []);
  });

  it('the risk tier response isolates the agent fully, by risk:<level>', async () => {
    const d = await ctx.decisions.decide(read(), { risk: { score: 95 } });
    assert.equal(d.decision, 'deny');
    const [state] = ctx.isolation.list('support-bot');
    assert.equal(state?.by, 'risk:critical');
    assert.deepEqual(state?.measures, { full: true });
    assert.equal(state?.decisionId, d.decisionId);
    const next = await ctx.decisions.decide(read());
    assert.equal(next.reasons[0]?.policy, 'cordon/isolation');
    assert.match(
      next.reasons[0]?.message ?? '',
      /full isolation.*applied by risk:critical: risk 95 \(critical\)/,
    );
    await ctx.isolation.release({ agent: 'support-bot' }, 'alice');
  });
});

describe('responses as configured', () => {
  it('takes the configured measures, for the configured scope and duration', async () => {
    const ctx = await isolatedDecisions(POLICIES, {
      config: { restrict: { revokedTools: ['web/*'] }, scope: 'session', durationSeconds: 600 },
    });
    try {
      const refused = await ctx.decisions.decide(out('paste.example.com', { session: 's1' }));
      const [state] = ctx.isolation.list('support-bot');
      assert.equal(state?.session, 's1');
      assert.deepEqual(state?.measures, { revokedTools: ['web/*'] });
      assert.ok(state?.until);
      assert.equal(state?.decisionId, refused.decisionId);
      // Egress is untouched by this configuration; another session is untouched by the state.
      assert.equal(
        (await ctx.decisions.decide(out('api.example.com', { session: 's1' }))).decision,
        'allow',
      );
    } finally {
      ctx.close();
    }
  });
});
