// The cluster exports, validated against the projects' published CRD schemas (fixtures/).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { loadPolicyDir } from '../../policy/load.js';
import { agent, compileOk, entities, EXAMPLE_POLICIES } from '../../testing/fixtures.js';
import { compileKernelPlan } from '../compiler.js';
import { enforcementOf } from '../enforcement.js';
import { ipNet } from '../sets.js';
import { toCilium, toKubeArmor, toTetragon } from './exports.js';

// Tests run from dist/; the fixtures stay in src/.
const fixture = (name: string) =>
  readFileSync(
    fileURLToPath(new URL(`../../../src/kernel/export/fixtures/${name}`, import.meta.url)),
    'utf8',
  );

function validator(schema: object): ValidateFunction {
  // Kubernetes' structural schemas carry x-kubernetes-* keywords; Ajv ignores them when not strict.
  // The schemas' patterns are Go (RE2) syntax: `\\PC` is `\\P{C}` in JavaScript.
  const regExp = Object.assign(
    (pattern: string, flags: string) =>
      new RegExp(pattern.replace(/\\([pP])([A-Z])/g, '\\$1{$2}'), flags),
    { code: 'RegExp' },
  );
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false, code: { regExp } });
  ajv.addFormat('cidr', (s: string) => s.includes('/') && ipNet(s) !== undefined);
  ajv.addFormat('ip', (s: string) => !s.includes('/') && ipNet(s) !== undefined);
  const int = (bits: number) => ({
    type: 'number' as const,
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1),
  });
  ajv.addFormat('int32', int(32));
  ajv.addFormat('int64', int(64));
  ajv.addFormat('idn-hostname', () => true);
  return ajv.compile(schema);
}

function crdValidator(yamlText: string): ValidateFunction {
  const crd = YAML.parse(yamlText) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: object } }[] };
  };
  return validator(crd.spec.versions[0]!.schema.openAPIV3Schema);
}

const tetragon = crdValidator(fixture('tetragon-tracingpolicies.crd.yaml'));
const kubearmor = crdValidator(fixture('kubearmor-policy.crd.yaml'));
const cilium = validator(JSON.parse(fixture('cilium-networkpolicy-v2.schema.json')) as object);

const valid = (v: ValidateFunction, doc: unknown) => {
  const ok = v(doc);
  assert.ok(ok, JSON.stringify(v.errors?.slice(0, 5), null, 2));
};

async function seedPlan() {
  const r = await loadPolicyDir(EXAMPLE_POLICIES);
  assert.ok(r.ok);
  const plan = compileKernelPlan(r.set, 'analyst-bot');
  return { plan, enf: enforcementOf(plan) };
}

function addressPlan() {
  const set = compileOk({
    'p.cedar': `permit(principal, action == Action::"readFile", resource) when { resource.path like "/data/*" || resource.path == "/srv/" || resource.path == "/etc/app.conf" };
      permit(principal, action == Action::"exec", resource) when { resource.path like "/usr/bin/*" };
      permit(principal, action == Action::"connectNetwork", resource)
        when { (resource.host == "10.1.2.3" && resource.port == 5432) || ip(resource.host).isInRange(ip("192.168.0.0/16")) };`,
    'entities.json': entities([agent('bot', [], {})]),
  });
  const plan = compileKernelPlan(set, 'bot');
  return { plan, enf: enforcementOf(plan) };
}

describe('exports validate against the published CRD schemas', () => {
  it('Tetragon TracingPolicy: the seed refuses files outside the workspace and every exec', async () => {
    const { plan, enf } = await seedPlan();
    const { resource } = toTetragon(plan, enf);
    valid(tetragon, resource);
    const spec = resource.spec as { kprobes: { call: string; selectors: unknown[] }[] };
    const files = spec.kprobes.find((k) => k.call === 'security_file_permission')!;
    assert.deepEqual(
      (files.selectors[0] as { matchArgs: { values: string[] }[] }).matchArgs[0]!.values,
      ['/var/run/secrets/analyst-key', '/workspace/analyst-'],
    );
    assert.ok(spec.kprobes.some((k) => k.call === 'security_bprm_check'));
    const { resource: r2 } = toTetragon(addressPlan().plan, addressPlan().enf);
    valid(tetragon, r2);
  });

  it('Tetragon TracingPolicy: allowed host names leave the network to the gateway, and the notes say so', async () => {
    // The seed allows names only: tcp_connect sees addresses, names resolve at run time.
    const seed = await seedPlan();
    const byName = toTetragon(seed.plan, seed.enf);
    const calls = (r: typeof byName) =>
      (r.resource.spec as { kprobes: { call: string }[] }).kprobes.map((k) => k.call);
    assert.ok(!calls(byName).includes('tcp_connect'));
    const note = byName.notes.find((n) => /^connectNetwork is not enforced/.test(n));
    assert.ok(note, byName.notes.join('\n'));
    assert.match(note, /api\.anthropic\.com, api\.openai\.com, lynx-gateway\.internal/);
    assert.match(note, /resolve at run time and cannot be enforced in the kernel/);
    assert.match(note, /no tcp_connect rule is emitted/);
    assert.match(note, /stays at the gateway/);
    // No note may describe a network rule that is not there.
    assert.ok(
      !byName.notes.some((n) => /Sigkill|ports are not matched/.test(n)),
      byName.notes.join('\n'),
    );
    // Addresses only: the rule is emitted, and the note is not.
    const a = addressPlan();
    const byAddress = toTetragon(a.plan, a.enf);
    assert.ok(calls(byAddress).includes('tcp_connect'));
    assert.ok(!byAddress.notes.some((n) => /not enforced/.test(n)), byAddress.notes.join('\n'));
    assert.ok(byAddress.notes.some((n) => /Sigkill/.test(n)));
  });

  it('KubeArmorPolicy: allow lists for files, processes and DNS names', async () => {
    const { plan, enf } = await seedPlan();
    const { resource } = toKubeArmor(plan, enf);
    valid(kubearmor, resource);
    const spec = resource.spec as {
      network: { matchDNSQueries: { domain: string }[] };
      file: { matchPatterns: { pattern: string }[] };
    };
    assert.deepEqual(
      spec.network.matchDNSQueries.map((d) => d.domain),
      ['api.anthropic.com', 'api.openai.com', 'lynx-gateway.internal'],
    );
    assert.deepEqual(
      spec.file.matchPatterns.map((p) => p.pattern),
      ['/workspace/analyst-*'],
    );
    const a = addressPlan();
    valid(kubearmor, toKubeArmor(a.plan, a.enf).resource);
  });

  it('CiliumNetworkPolicy: toFQDNs with ports for names, toCIDR for addresses', async () => {
    const { plan, enf } = await seedPlan();
    const { resource } = toCilium(plan, enf);
    valid(cilium, resource);
    const egress = (resource.spec as { egress: Record<string, unknown>[] }).egress;
    const fqdn = egress.filter((e) => e.toFQDNs) as {
      toFQDNs: { matchName: string }[];
      toPorts?: { ports: { port: string }[] }[];
    }[];
    assert.deepEqual(
      fqdn.map((e) => [e.toFQDNs.map((n) => n.matchName), e.toPorts?.[0]?.ports[0]?.port]),
      [
        [['api.anthropic.com', 'api.openai.com'], '443'],
        [['lynx-gateway.internal'], undefined],
      ],
    );
    const a = addressPlan();
    const r2 = toCilium(a.plan, a.enf).resource;
    valid(cilium, r2);
    const cidrs = (r2.spec as { egress: { toCIDR?: string[] }[] }).egress.flatMap(
      (e) => e.toCIDR ?? [],
    );
    assert.deepEqual(cidrs.sort(), ['10.1.2.3/32', '192.168.0.0/16']);
  });

  it('the validators reject what the projects reject', () => {
    assert.equal(
      kubearmor({
        apiVersion: 'security.kubearmor.com/v1',
        kind: 'KubeArmorPolicy',
        spec: { action: 'Deny' },
      }),
      false,
    );
    assert.equal(
      tetragon({
        apiVersion: 'cilium.io/v1alpha1',
        kind: 'TracingPolicy',
        spec: { kprobes: [{ call: 'x', selectors: [{ matchActions: [{ action: 'Explode' }] }] }] },
      }),
      false,
    );
    assert.equal(
      cilium({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        spec: { endpointSelector: {}, egress: [{ toCIDR: ['not-a-cidr'] }] },
      }),
      false,
    );
  });
});
