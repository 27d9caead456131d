// Destinations by address: containment and intersection follow Cedar's ip extension
// (`ip(resource.host).isInRange(ip("10.0.0.0/8"))`), so the kernel's sets agree with what the
// gateway decides for the same policy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { destCidr, destDomain, destinationHost, inetAton, ipNet } from './sets.js';

describe('destination sets: addresses by Cedar ip semantics', () => {
  it('a range covers the addresses and narrower ranges inside it, of its own family only', () => {
    assert.ok(destDomain.covers({ cidr: '10.0.0.0/8' }, { host: '10.1.2.3', port: 5432 }));
    assert.ok(destDomain.covers({ cidr: '10.0.0.0/8' }, { cidr: '10.1.0.0/16' }));
    assert.ok(!destDomain.covers({ cidr: '10.0.0.0/16' }, { cidr: '10.0.0.0/8' }));
    assert.ok(!destDomain.covers({ cidr: '10.0.0.0/8' }, { host: '11.0.0.1' }));
    assert.ok(destDomain.covers({ cidr: '::/0' }, { host: '2001:db8::1' }));
    assert.ok(!destDomain.covers({ cidr: '0.0.0.0/0' }, { host: '2001:db8::1' }));
    assert.ok(!destDomain.covers({ cidr: '10.0.0.0/8', port: 443 }, { host: '10.0.0.1' }));
  });

  it('the meet of a range and an address inside it is the address; with a name, nothing', () => {
    assert.deepEqual(destDomain.meet({ cidr: '10.0.0.0/8' }, { host: '10.1.2.3', port: 22 }), {
      host: '10.1.2.3',
      port: 22,
    });
    assert.deepEqual(destDomain.meet({ cidr: '10.0.0.0/8' }, { cidr: '10.1.0.0/16' }), {
      cidr: '10.1.0.0/16',
    });
    assert.equal(destDomain.meet({ cidr: '10.0.0.0/8' }, { cidr: '192.168.0.0/16' }), undefined);
    // Cedar's ip() of a name is an error: a range never meets a name.
    assert.equal(destDomain.meet({ cidr: '10.0.0.0/8' }, { host: 'db.internal' }), undefined);
  });

  it('what Cedar does not read as an address is a name (the egress proxy decides it)', () => {
    assert.equal(destCidr({ host: '10.1.2.3' }), '10.1.2.3/32');
    assert.equal(destCidr({ host: '::1' }), '::1/128');
    assert.equal(destCidr({ host: 'db.internal' }), undefined);
    // Cedar refuses leading zeros and IPv4 embedded in IPv6.
    assert.equal(destCidr({ host: '010.0.0.1' }), undefined);
    assert.equal(destCidr({ host: '::ffff:10.0.0.1' }), undefined);
    assert.equal(ipNet('10.0.0.0/33'), undefined);
    assert.equal(ipNet('192.168.0.0/16')?.prefix, 16);
    assert.equal(ipNet('2001:db8::/32')?.v6, true);
  });

  it('a destination is decided as the host it is connected to', () => {
    // IPv4-mapped IPv6 is its IPv4 address: a rule on 10.0.0.0/8 must see it.
    assert.equal(destinationHost('::FFFF:a00:1'), '10.0.0.1');
    assert.equal(destinationHost('2001:db8::1'), '2001:db8::1');
    assert.equal(destinationHost('10.0.0.1'), '10.0.0.1');
    assert.equal(destinationHost('API.example.com'), 'api.example.com');
    for (const n of ['db.internal', '1e100.net', '123.example', 'dead.beef'])
      assert.equal(destinationHost(n), n);
    // What is neither an address nor a name: refused, never looked up as a name.
    for (const a of ['1.2.3.4.', '1.2.3.4.5', '08.1', '0x', '1:2:3:4::5:6:7:8', 'fe80::1%eth0'])
      assert.equal(destinationHost(a), undefined, a);
  });

  it("inet_aton's numeric forms are decided as the address the resolver connects to", () => {
    assert.equal(destinationHost('010.0.0.1'), '8.0.0.1');
    assert.equal(destinationHost('0x7f.1'), '127.0.0.1');
    assert.equal(destinationHost('127.1'), '127.0.0.1');
    assert.equal(destinationHost('2130706433'), '127.0.0.1');
    assert.equal(destinationHost('10.257'), '10.0.1.1');
    assert.equal(destinationHost('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(destinationHost('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(inetAton('256.0.0.1'), undefined);
    assert.equal(inetAton('1.2.65536'), undefined);
  });

  it('every form the kernel connects to loopback is loopback', () => {
    for (const a of ['0.0.0.0', '0', '0x0', '00.0', '::ffff:0.0.0.0', '::ffff:0:0'])
      assert.equal(destinationHost(a), '127.0.0.1', a);
    for (const a of ['::', '0::0', '0:0:0:0:0:0:0:0']) assert.equal(destinationHost(a), '::1', a);
  });
});
