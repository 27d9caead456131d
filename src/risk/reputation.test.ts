// The destination reputation list: names cover their subdomains, addresses and ranges cover
// every spelling of an address the egress proxy would connect to, and the file is followed like
// the policies (an edit takes effect; a corrupt edit keeps the last good list and says why).

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';
import { LiveReputation, ReputationError, ReputationList } from './reputation.js';

const list = (text: string) => {
  const r = ReputationList.parse(text);
  assert.ok(r instanceof ReputationList, JSON.stringify(r));
  return r;
};

describe('reputation list', () => {
  const l = list(`# known bad
evil.example        # a whole domain
*.tracker.example
198.51.100.7
203.0.113.0/24
2001:db8:bad::/48
`);

  it('a name covers itself and every name under it, and nothing that merely ends alike', () => {
    assert.equal(l.match('evil.example'), 'evil.example');
    assert.equal(l.match('C2.Evil.Example.'), 'evil.example');
    assert.equal(l.match('a.tracker.example'), 'tracker.example');
    assert.equal(l.match('notevil.example'), undefined);
    assert.equal(l.match('example'), undefined);
  });

  it('addresses and ranges match every spelling of the address', () => {
    assert.equal(l.match('198.51.100.7'), '198.51.100.7');
    assert.equal(l.match('203.0.113.200'), '203.0.113.0/24');
    assert.equal(l.match('::ffff:203.0.113.5'), '203.0.113.0/24', 'IPv4-mapped IPv6');
    assert.equal(l.match('3405803781'), '203.0.113.0/24', 'inet_aton decimal form');
    assert.equal(l.match('[2001:db8:bad::1]'), '2001:db8:bad::/48');
    assert.equal(l.match('203.0.114.1'), undefined);
  });

  it('a line that is neither a name, an address nor a range is reported with its line', () => {
    const r = ReputationList.parse('good.example\nhttp://evil.example/x\n10.0.0.0/33\n');
    assert.ok(!(r instanceof ReputationList));
    assert.deepEqual(
      r.map((p) => p.line),
      [2, 3],
    );
  });
});

describe('reputation file, followed', () => {
  it('an edit takes effect; a corrupt edit keeps the last good list and reports the line', async () => {
    const dir = await tempDir('cordon-rep-');
    const file = join(dir, 'bad-hosts.txt');
    await writeFile(file, 'evil.example\n');
    const live = await LiveReputation.open(file);
    try {
      assert.equal(live.match('x.evil.example'), 'evil.example');
      await writeFile(file, 'evil.example\nworse.example\n');
      await live.reload();
      assert.equal(live.match('worse.example'), 'worse.example');

      const failed = once(live, 'error');
      await writeFile(file, 'evil.example\nnot a host!\n');
      await live.reload();
      const [err] = (await failed) as [ReputationError];
      assert.match(err.message, /bad-hosts\.txt:2: "not a host!"/);
      assert.equal(live.match('worse.example'), 'worse.example', 'the last good list serves');
    } finally {
      await live.close();
    }
  });

  it('follows the file without being asked', async () => {
    const dir = await tempDir('cordon-rep-');
    const file = join(dir, 'bad-hosts.txt');
    await writeFile(file, 'evil.example\n');
    const live = await LiveReputation.open(file);
    try {
      await live.watch(20);
      const reloaded = once(live, 'reload');
      await writeFile(file, 'evil.example\nlater.example\n');
      await reloaded;
      assert.equal(live.match('later.example'), 'later.example');
    } finally {
      await live.close();
    }
  });

  it('a file that cannot be read or parsed at start is an error (no last good list yet)', async () => {
    const dir = await tempDir('cordon-rep-');
    await assert.rejects(LiveReputation.open(join(dir, 'missing.txt')), /cannot read/);
    await writeFile(join(dir, 'bad.txt'), '999.1.2.3/8\n');
    await assert.rejects(LiveReputation.open(join(dir, 'bad.txt')), /bad\.txt:1/);
  });
});
