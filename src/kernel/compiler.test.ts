import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPolicyDir } from '../policy/load.js';
import { agent, compileOk, entities, EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { compileKernelPlan, describeSet, KernelCompileError } from './compiler.js';
import { enforcementOf } from './enforcement.js';
import { formatReport } from './report.js';
import { destDomain, pathDomain } from './sets.js';

const AGENTS = entities([
  agent('bot', [{ type: 'AgentClass', id: 'workers' }], { risk_level: 'low' }),
  agent('risky', [{ type: 'AgentClass', id: 'workers' }], { risk_level: 'high' }),
  { uid: { type: 'AgentClass', id: 'workers' }, attrs: {}, parents: [] },
  {
    uid: { type: 'NetworkDestination', id: '10.1.2.3:5432' },
    attrs: { host: '10.1.2.3', port: 5432 },
    parents: [{ type: 'DestinationSet', id: 'db' }],
  },
  { uid: { type: 'DestinationSet', id: 'db' }, attrs: {}, parents: [] },
]);

const plan = (policy: string, who = 'bot') =>
  compileKernelPlan(compileOk({ 'p.cedar': policy, 'entities.json': AGENTS }), who);
const files = (s: Parameters<typeof describeSet>[0]) => describeSet(s, pathDomain.key as never);
const dests = (s: Parameters<typeof describeSet>[0]) => describeSet(s, destDomain.key as never);

describe('kernel compiler: the seed (data-analyst) policy', () => {
  it('compiles files, exec and egress, and keeps the rest at the gateway with reasons', async () => {
    const r = await loadPolicyDir(EXAMPLE_POLICIES);
    assert.ok(r.ok);
    const p = compileKernelPlan(r.set, 'analyst-bot');
    assert.equal(files(p.readFile.allowed), '/var/run/secrets/analyst-key, /workspace/analyst-*');
    assert.equal(files(p.writeFile.allowed), '/var/run/secrets/analyst-key, /workspace/analyst-*');
    assert.equal(p.readFile.precision, 'exact');
    assert.equal(files(p.exec.allowed), 'nothing');
    assert.equal(
      dests(p.connectNetwork.allowed),
      'api.anthropic.com:443, api.openai.com:443, lynx-gateway.internal:*',
    );
    // The session-label exfiltration rule reads context: the gateway keeps it, the kernel allows more.
    assert.equal(p.connectNetwork.precision, 'over');
    const layer = (id: string) => p.policies.find((x) => x.id === id)?.layer;
    assert.equal(layer('analyst-workspace-files'), 'kernel');
    assert.equal(layer('analyst-egress-allowlist'), 'kernel');
    assert.equal(layer('no-exfiltration-after-sensitive-read'), 'gateway');
    assert.equal(layer('injected-agent-isolated'), 'gateway');
    const exfil = p.policies.find((x) => x.id === 'no-exfiltration-after-sensitive-read')!;
    assert.match(exfil.notes.join(' '), /context\.session\.labels/);
    // Policies for other agents are not in this agent's report.
    assert.equal(layer('finance-staff-erp'), undefined);
    const enf = enforcementOf(p);
    assert.deepEqual(enf.net.ip, []);
    assert.deepEqual(
      enf.net.names.map((n) => n.host),
      ['api.anthropic.com', 'api.openai.com', 'lynx-gateway.internal'],
    );
    const text = formatReport(p, enf);
    assert.match(
      text,
      /analyst-egress-allowlist \(forbid, analyst\.cedar\): kernel \+ egress proxy/,
    );
    assert.match(text, /no-exfiltration-after-sensitive-read .*: gateway/);
  });

  it('refuses an agent that entities.json does not list', async () => {
    const r = await loadPolicyDir(EXAMPLE_POLICIES);
    assert.ok(r.ok);
    assert.throws(() => compileKernelPlan(r.set, 'nobody'), KernelCompileError);
  });
});

describe('kernel compiler: conditions', () => {
  it('principal conditions are decided by Cedar for the agent at hand', () => {
    const policy = `permit(principal in AgentClass::"workers", action == Action::"readFile", resource)
      when { principal.risk_level == "low" && resource.path like "/data/*" };`;
    assert.equal(files(plan(policy).readFile.allowed), '/data/*');
    assert.equal(files(plan(policy, 'risky').readFile.allowed), 'nothing');
  });

  it('a forbid inside an allowed tree is an over-approximation the gateway enforces', () => {
    const p =
      plan(`permit(principal, action == Action::"readFile", resource) when { resource.path like "/data/*" };
      forbid(principal, action == Action::"readFile", resource) when { resource.path like "/data/secret/*" };`);
    assert.equal(files(p.readFile.allowed), '/data/*');
    assert.equal(p.readFile.precision, 'over');
    assert.match(p.readFile.notes.join(' '), /cannot\s+carve out/);
  });

  it('a forbid covering a whole allowed tree removes it exactly', () => {
    const p =
      plan(`permit(principal, action == Action::"readFile", resource) when { resource.path like "/a/*" || resource.path like "/b/*" };
      forbid(principal, action == Action::"readFile", resource) when { resource.path like "/b/*" };`);
    assert.equal(files(p.readFile.allowed), '/a/*');
    assert.equal(p.readFile.precision, 'exact');
  });

  it('a permit that reads context is not granted by the kernel (fail closed)', () => {
    const p = plan(`permit(principal, action == Action::"writeFile", resource)
      when { resource.path like "/out/*" && context.delegation.depth < 2 };`);
    assert.equal(files(p.writeFile.allowed), 'nothing');
    assert.equal(p.writeFile.precision, 'under');
    assert.match(p.policies[0]!.notes.join(' '), /context\.delegation\.depth/);
    assert.equal(p.policies[0]!.layer, 'gateway');
  });

  it('a forbid that reads context stays at the gateway', () => {
    const p =
      plan(`permit(principal, action == Action::"readFile", resource) when { resource.path like "/data/*" };
      forbid(principal, action, resource) when { context.content.injection > 80 };`);
    assert.equal(files(p.readFile.allowed), '/data/*');
    assert.equal(p.readFile.precision, 'over');
    assert.equal(p.policies.find((x) => x.effect === 'forbid')?.layer, 'gateway');
  });

  it('a condition too large to analyze stays at the gateway: not granted, not refused, no crash', () => {
    // 13 two-way choices: 8,192 cases once expanded, past what the analysis takes on.
    const big = Array.from(
      { length: 13 },
      (_, i) => `(resource.path like "/a${i}/*" || resource.path like "/b${i}/*")`,
    ).join(' && ');
    const p =
      plan(`permit(principal, action == Action::"readFile", resource) when { resource.path like "/data/*" };
      permit(principal, action == Action::"readFile", resource) when { ${big} };
      forbid(principal, action == Action::"readFile", resource) when { ${big} };`);
    assert.equal(files(p.readFile.allowed), '/data/*');
    // The permit is not granted (under), the forbid not applied (over).
    assert.equal(p.readFile.precision, 'over+under');
    const large = p.policies.filter((x) => /too large to analyze/.test(x.notes.join(' ')));
    assert.deepEqual(
      large.map((x) => [x.effect, x.layer]),
      [
        ['permit', 'gateway'],
        ['forbid', 'gateway'],
      ],
    );
  });

  it('an inner wildcard is approximated to nothing (the kernel cannot match it)', () => {
    const p = plan(
      `permit(principal, action == Action::"readFile", resource) when { resource.path like "/home/*/notes.txt" };`,
    );
    assert.equal(files(p.readFile.allowed), 'nothing');
    assert.equal(p.readFile.precision, 'under');
  });

  it('exec by path; addresses, ranges and sets for connectNetwork', () => {
    const p =
      plan(`permit(principal, action == Action::"exec", resource) when { resource.path == "/usr/bin/git" };
      permit(principal, action == Action::"connectNetwork", resource)
        when { resource in DestinationSet::"db" || (resource.host == "127.0.0.1" && resource.port == 8080)
               || ip(resource.host).isInRange(ip("192.168.0.0/16")) };`);
    assert.equal(files(p.exec.allowed), '/usr/bin/git');
    assert.equal(
      dests(p.connectNetwork.allowed),
      '10.1.2.3:5432, 127.0.0.1:8080, 192.168.0.0/16:*',
    );
    const enf = enforcementOf(p);
    assert.deepEqual(enf.net.ip, [
      { cidr: '10.1.2.3/32', port: 5432 },
      { cidr: '127.0.0.1/32', port: 8080 },
      { cidr: '192.168.0.0/16' },
    ]);
    // A range on every port: Landlock cannot restrict ports, eBPF still restricts addresses.
    assert.equal(enf.net.portsRestrictable, false);
  });

  it('the strict form of a range (resource.ip) compiles like ip(resource.host)', () => {
    const p = plan(`permit(principal, action == Action::"connectNetwork", resource)
      when { resource has ip && resource.ip.isInRange(ip("192.168.0.0/16")) };
      forbid(principal, action == Action::"connectNetwork", resource)
      when { resource has ip && resource.ip.isInRange(ip("192.168.1.0/24")) };`);
    assert.equal(dests(p.connectNetwork.allowed), '192.168.0.0/16:*');
    const any = plan(`permit(principal, action == Action::"connectNetwork", resource)
      when { resource has ip };`);
    assert.equal(dests(any.connectNetwork.allowed), '::/0:*, 0.0.0.0/0:*');
  });

  it('a host the resolver would read as another address is neither allowed nor a name', () => {
    // 010.0.0.1 is no address to Cedar, but getaddrinfo reads it as octal: 8.0.0.1, and a
    // destination is decided as that address, so the rule never matches it as written.
    const p = plan(`permit(principal, action == Action::"connectNetwork", resource)
      when { resource.host == "010.0.0.1" || resource.host == "0x7f.1" || resource.host == "api.example.com" };`);
    const enf = enforcementOf(p);
    assert.deepEqual(
      enf.net.names.map((n) => n.host),
      ['api.example.com'],
    );
    assert.deepEqual(enf.net.ip, []);
    assert.match(enf.net.notes.join(' '), /010\.0\.0\.1, 0x7f\.1: neither an address/);
  });

  it('a range Cedar cannot read grants nothing: the policy errors and stays at the gateway', () => {
    const p = plan(`permit(principal, action == Action::"connectNetwork", resource)
      when { ip(resource.host).isInRange(ip("10.0.0.0/08")) };`);
    assert.equal(dests(p.connectNetwork.allowed), 'nothing');
    assert.deepEqual(enforcementOf(p).net.ip, []);
    assert.equal(p.policies[0]!.layer, 'gateway');
  });

  it('an unconstrained permit leaves the mechanism off', () => {
    const p = plan(
      `permit(principal, action in [Action::"readFile", Action::"writeFile", Action::"exec", Action::"connectNetwork"], resource);`,
    );
    const enf = enforcementOf(p);
    assert.equal(enf.fsRestricted, false);
    assert.equal(enf.net.restricted, false);
  });
});
