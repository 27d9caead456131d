import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../config/config.js';
import { parseListen } from './config.js';
import { compilePathPattern, splitPath } from './template.js';

const base = { grpc: { listen: '127.0.0.1:9191' } };
const route = (over: Record<string, unknown> = {}) => ({
  match: { path: '/repos/{owner}/{repo}' },
  action: 'readData',
  resource: { type: 'Repo', id: '{owner}/{repo}' },
  ...over,
});

function problem(extAuthz: unknown): string {
  try {
    parseConfig({ extAuthz }, 'cordon.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('extAuthz configuration', () => {
  it('defaults to a delegation token as the identity and no routes', () => {
    const c = parseConfig({ extAuthz: base }).extAuthz!;
    assert.deepEqual(parseListen(c.grpc!.listen), { host: '127.0.0.1', port: 9191 });
    assert.deepEqual(c.identity.agent, [{ bearer: { header: 'authorization' } }]);
    assert.deepEqual(c.routes, []);
  });

  it('reads [v6]:port and :port listeners, and survives being parsed again', () => {
    const once = parseConfig({
      extAuthz: { grpc: { listen: '[::1]:9191' }, http: { listen: ':9192' }, kubernetes: {} },
    });
    // cordon serve parses the file, merges the flags in, and parses the result again.
    const c = parseConfig(once).extAuthz!;
    assert.deepEqual(parseListen(c.grpc!.listen), { host: '::1', port: 9191 });
    assert.deepEqual(parseListen(c.http!.listen), { host: '127.0.0.1', port: 9192 });
    assert.match(problem({ grpc: { listen: '127.0.0.1:70000' } }), /at most 65535/);
  });

  it('names the route and the unknown variable of a template', () => {
    assert.match(
      problem({ ...base, routes: [route({ resource: { type: 'Repo', id: '{owner}/{name}' } })] }),
      /extAuthz\.routes\.0\.resource\.id: \{name\} is not a path parameter/,
    );
  });

  it('refuses a parameter that is not a whole segment, and a rest parameter not last', () => {
    assert.match(
      problem({ ...base, routes: [route({ match: { path: '/repos/v{version}' } })] }),
      /routes\.0\.match\.path: "v\{version\}": a parameter is a whole segment/,
    );
    assert.match(
      problem({ ...base, routes: [route({ match: { path: '/files/{p*}/x' } })] }),
      /\{p\*\} must be the last segment/,
    );
  });

  it('wants exactly one kind of identity source, and {agent} in a SPIFFE path', () => {
    assert.match(
      problem({ ...base, identity: { agent: [{ header: 'x-agent', bearer: {} }] } }),
      /identity\.agent\.0: give exactly one of header, spiffe, jwt or bearer/,
    );
    assert.match(
      problem({
        ...base,
        identity: { agent: [{ spiffe: { trustDomain: 'example.org', path: '/ns/{ns}/sa/{sa}' } }] },
      }),
      /identity\.agent\.0\.spiffe\.path: the pattern names no \{agent\}/,
    );
  });

  it('needs a listener, and the http listener for the Kubernetes webhook', () => {
    assert.match(problem({}), /give grpc\.listen, http\.listen or both/);
    assert.match(problem({ ...base, kubernetes: {} }), /kubernetes is served on the http listener/);
    assert.match(problem({ grpc: { listen: '127.0.0.1' } }), /grpc\.listen: host:port/);
  });

  it('checks the variables of Kubernetes rules', () => {
    assert.match(
      problem({
        http: { listen: ':0' },
        kubernetes: { rules: [{ action: 'k8s:{verbs}', resource: { type: 'K', id: '{name}' } }] },
      }),
      /kubernetes\.rules\.0\.action: \{verbs\} is not one of/,
    );
  });
});

describe('path patterns', () => {
  it('matches whole segments and a rest parameter', () => {
    const p = compilePathPattern('/repos/{owner}/{repo}/contents/{path*}');
    assert.deepEqual(p.match(splitPath('/repos/acme/app/contents/src/a%20b.ts')), {
      owner: 'acme',
      repo: 'app',
      path: 'src/a b.ts',
    });
    assert.equal(p.match(splitPath('/repos/acme/app/issues/1')), undefined);
  });

  it('does not let a parameter be empty or a trailing slash add a segment', () => {
    const p = compilePathPattern('/repos/{owner}');
    assert.equal(p.match(splitPath('/repos/')), undefined);
    assert.equal(p.match(splitPath('/repos/acme/')), undefined);
  });

  it('compares literals after decoding, as the upstream will', () => {
    const p = compilePathPattern('/admin/{x}');
    assert.deepEqual(p.match(splitPath('/%61dmin/1')), { x: '1' });
  });
});

describe('CheckResponse encoding', () => {
  it('builds responses that verify against the Envoy schema, for every kind of answer', async () => {
    const { checkResponseOf } = await import('./grpc.js');
    const { verifyCheckResponse } = await import('./protos.js');
    const { refusal, verdictOf } = await import('./verdict.js');
    const decision = {
      reasons: [{ policy: 'p', effect: 'forbid' as const, annotations: {}, message: 'no' }],
      risk: { score: 0, level: 'low' as const },
      policyVersion: 'sha256:x',
      decisionId: '0193f0a0-0000-7000-8000-000000000000',
    };
    for (const v of [
      verdictOf({ ...decision, decision: 'allow', obligations: [{ type: 'redact' }] }, true, true),
      verdictOf({ ...decision, decision: 'deny', obligations: [] }, true, true),
      verdictOf({ ...decision, decision: 'deny', obligations: [] }, false, true),
      refusal(400, 'bad'),
      refusal(503, 'down'),
    ])
      assert.equal(verifyCheckResponse(checkResponseOf(v)), null);
  });
});

describe('Kubernetes review mapping', () => {
  const mappingFor = async (kubernetes: unknown) => {
    const { KubernetesMapping } = await import('./kubernetes.js');
    const c = parseConfig({ extAuthz: { http: { listen: ':0' }, kubernetes } }).extAuthz!;
    return new KubernetesMapping(c.kubernetes!);
  };

  it('maps a non-resource request through a path rule, with the path parameters', async () => {
    const { parseReview } = await import('./kubernetes.js');
    const m = await mappingFor({
      rules: [
        {
          match: { path: '/healthz/{check*}' },
          action: 'k8s:health',
          resource: { type: 'KubernetesEndpoint', id: '{check}' },
        },
      ],
    });
    const review = parseReview({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { nonResourceAttributes: { path: '/healthz/etcd', verb: 'get' }, user: 'bot' },
    });
    const r = m.map(review);
    assert.equal(r.kind, 'decide');
    if (r.kind !== 'decide') return;
    assert.equal(r.request.agent, 'bot');
    assert.equal(r.request.action, 'k8s:health');
    assert.deepEqual(r.request.resource, { type: 'KubernetesEndpoint', id: 'etcd' });
    const other = m.map(
      parseReview({
        ...review,
        spec: { ...review.spec, nonResourceAttributes: { path: '/version', verb: 'get' } },
      }),
    );
    assert.equal(other.kind, 'refuse');
  });

  it('takes the agent only from a username that matches the pattern whole', async () => {
    const m = await mappingFor({ agent: 'system:serviceaccount:{namespace}:{agent}' });
    assert.equal(m.agentOf('system:serviceaccount:agents:triage'), 'triage');
    assert.equal(m.agentOf('system:serviceaccount:agents:triage:extra'), undefined);
    assert.equal(m.agentOf('xsystem:serviceaccount:agents:triage'), undefined);
    assert.equal(m.agentOf('jane'), undefined);
  });
});
