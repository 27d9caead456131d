import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argumentShape, assess, Baseline, DEFAULT_PARAMS, pathPrefix } from './baseline.js';
import { observe } from './baseline-observe.js';

const DAY = 86_400_000;
const params = { ...DEFAULT_PARAMS, halfLifeMs: DAY };
const opts = { minObservations: 5 };
const T0 = Date.UTC(2026, 0, 1);

function learned(times: number, item: string, at = T0): Baseline {
  const b = new Baseline(params, at);
  for (let i = 0; i < times; i++) b.add({ destination: [item] }, at + i);
  return b;
}

describe('baseline model: a decayed distribution, not a list', () => {
  it('an item never seen is novel, one seen is not', () => {
    const b = learned(50, 'api.example.com:443');
    const seen = assess([b], { destination: ['api.example.com:443'] }, T0 + 100, opts);
    const fresh = assess([b], { destination: ['evil.example.net:443'] }, T0 + 100, opts);
    assert.equal(seen.novel.destination, false);
    assert.equal(seen.deviation, 0);
    assert.equal(fresh.novel.destination, true);
    assert.equal(fresh.deviation, 100);
  });

  it('decay makes an item used long ago rare but not novel', () => {
    const b = learned(20, 'old.example.com:443');
    // Then an hourly routine for ten days.
    for (let t = 0; t <= 10 * DAY; t += 3_600_000)
      b.add({ destination: ['usual.example.com:443'] }, T0 + DAY + t);
    const later = T0 + 11 * DAY;
    const a = assess([b], { destination: ['old.example.com:443'] }, later + 100, opts);
    assert.equal(a.novel.destination, false, 'still known after ten half-lives');
    assert.ok(a.deviation >= 70 && a.deviation < 100, `rare: deviation ${a.deviation}`);
    // Without decay it would be 20 of 261 (under 4 bits): the decay is what made it rare.
    assert.ok(b.count('destination', 'old.example.com:443', later) < 0.05);
  });

  it('a rare but legitimate item scores lower than a novel one, a common one lower still', () => {
    const b = learned(95, 'common:443');
    for (let i = 0; i < 5; i++) b.add({ destination: ['rare:443'] }, T0 + 200 + i);
    const at = T0 + 1000;
    const common = assess([b], { destination: ['common:443'] }, at, opts).deviation;
    const rare = assess([b], { destination: ['rare:443'] }, at, opts).deviation;
    const novel = assess([b], { destination: ['new:443'] }, at, opts).deviation;
    assert.ok(common < rare && rare < novel, `${common} < ${rare} < ${novel}`);
  });

  it('counts merge across baselines whatever their epochs (two nodes, one store)', () => {
    const a = learned(10, 'x:1', T0);
    const b = learned(10, 'x:1', T0 + DAY);
    const merged = a.clone();
    merged.merge(b);
    const at = T0 + DAY + 100;
    const sum = a.count('destination', 'x:1', at) + b.count('destination', 'x:1', at);
    assert.ok(Math.abs(merged.count('destination', 'x:1', at) - sum) < 1e-9);
    assert.ok(Math.abs(merged.observations(at) - (a.observations(at) + b.observations(at))) < 1e-9);
  });

  it('survives its stored form, and a half-life change keeps the counts as they stand', () => {
    const b = learned(10, 'x:1');
    const at = T0 + DAY;
    const back = Baseline.fromJson(JSON.parse(JSON.stringify(b.toJson())), params, at);
    assert.ok(
      Math.abs(back.count('destination', 'x:1', at) - b.count('destination', 'x:1', at)) < 1e-9,
    );
    const other = Baseline.fromJson(b.toJson(), { ...params, halfLifeMs: 2 * DAY }, at);
    assert.ok(
      Math.abs(other.count('destination', 'x:1', at) - b.count('destination', 'x:1', at)) < 1e-9,
    );
    assert.throws(() => Baseline.fromJson({ v: 2 }, params, at), /not a stored baseline/);
  });

  it('keeps at most maxItems per dimension, forgetting the rarest', () => {
    const b = new Baseline({ ...params, maxItems: 3 }, T0);
    for (const [item, n] of [
      ['a', 5],
      ['b', 4],
      ['c', 3],
    ] as const)
      for (let i = 0; i < n; i++) b.add({ tool: [item] }, T0);
    b.add({ tool: ['d'] }, T0);
    assert.deepEqual([...b.items.get('tool')!.keys()].sort(), ['a', 'b', 'd']);
  });

  it('a burst over the usual rate raises the rate ratio and the deviation', () => {
    const b = new Baseline({ ...params, rateHalfLifeMs: 60_000 }, T0);
    // One action a minute for a day…
    for (let t = 0; t < DAY; t += 60_000) b.add({ tool: ['t#s'] }, T0 + t);
    const usual = assess([b], { tool: ['t#s'] }, T0 + DAY, opts);
    assert.ok(usual.rateRatio > 50 && usual.rateRatio < 200, `usual ${usual.rateRatio}%`);
    assert.equal(usual.deviation, 0);
    // …then 100 in ten seconds.
    for (let i = 0; i < 100; i++) b.add({ tool: ['t#s'] }, T0 + DAY + i * 100);
    const burst = assess([b], { tool: ['t#s'] }, T0 + DAY + 10_000, opts);
    assert.ok(burst.rateRatio > 1000, `burst ${burst.rateRatio}%`);
    assert.ok(burst.deviation >= 80, `deviation ${burst.deviation}`);
  });
});

describe('what a request shows: identifiers and shapes, never values', () => {
  it('a tool call is its name and the hashed shape of its arguments', () => {
    const secret = 'sk-live-1234567890abcdef';
    const obs = observe(
      {
        agent: 'a',
        action: 'invokeTool',
        resource: { type: 'Tool', id: 'http/post' },
        input: { url: 'https://x', headers: { authorization: secret }, n: 1 },
      },
      [],
      { pathDepth: 3 },
    );
    const [item] = obs.tool!;
    assert.match(item!, /^http\/post#[\w-]{12}$/);
    assert.ok(!item!.includes(secret) && !item!.includes('authorization'));
    // Same keys and types, other values: the same shape; another type: another shape.
    const same = argumentShape({ n: 2, url: 'https://y', headers: { authorization: 'z' } });
    assert.equal(item, `http/post#${same}`);
    assert.notEqual(same, argumentShape({ url: 'https://x', headers: {}, n: '1' }));
    assert.equal(argumentShape({ xs: [1, 2, 3] }), argumentShape({ xs: [4] }));
  });

  it('destinations are normalized host:port, paths their prefix per action, data its classification', () => {
    const o = { pathDepth: 2 };
    assert.deepEqual(
      observe(
        { action: 'connectNetwork', resource: { type: 'NetworkDestination', id: '0.0.0.0:80' } },
        [],
        o,
      ),
      { destination: ['127.0.0.1:80'] },
    );
    assert.deepEqual(
      observe(
        { action: 'readFile', resource: { type: 'FilePath', id: '/workspace/src/app/x.ts' } },
        [],
        o,
      ),
      { path: ['readFile /workspace/src'] },
    );
    assert.deepEqual(
      observe({ action: 'readData', resource: { type: 'Field', id: 'crm.email' } }, ['pii'], o),
      { dataset: ['Field::crm.email', 'label:pii'] },
    );
    assert.equal(pathPrefix('/etc/passwd', 3), '/etc');
    // A tool that posts to a URL reaches that host: a destination like a connect's.
    assert.deepEqual(
      observe(
        {
          action: 'invokeTool',
          resource: { type: 'Tool', id: 'helpdesk/post' },
          input: { url: 'https://Hooks.Example:8443/x', body: '{}' },
        },
        [],
        o,
      ).destination,
      ['hooks.example:8443'],
    );
  });
});
