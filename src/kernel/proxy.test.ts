import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { findCgroup2Mount } from './cgroup.js';
import { parseAuthority, startEgressProxy } from './proxy.js';

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

async function upstream(): Promise<number> {
  const s = createServer((c) => {
    c.on('error', () => {});
    c.end('hello');
  });
  servers.push(s);
  return new Promise((r) =>
    s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)),
  );
}

/** Sends one CONNECT through the proxy; returns the status line and what followed. */
function tunnel(proxyPort: number, dest: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(proxyPort, '127.0.0.1', () =>
      s.write(`CONNECT ${dest} HTTP/1.1\r\nHost: ${dest}\r\n\r\n`),
    );
    let buf = '';
    s.on('data', (d) => (buf += d));
    s.on('close', () =>
      resolve(`${buf.split('\r\n')[0]} ${buf.includes('hello') ? 'hello' : ''}`.trim()),
    );
    s.on('error', () => resolve('error'));
    setTimeout(() => s.end(), 300);
  });
}

describe('egress proxy', () => {
  it('tunnels what the decision allows and refuses the rest; a failing decision refuses', async () => {
    const port = await upstream();
    const asked: string[] = [];
    const proxy = await startEgressProxy(async (host, p) => {
      asked.push(`${host}:${p}`);
      if (host === 'boom.example') throw new Error('store down');
      return { allow: host === '127.0.0.1' && p === port, decisionId: 'd1' };
    });
    try {
      assert.equal(
        await tunnel(proxy.port, `127.0.0.1:${port}`),
        'HTTP/1.1 200 Connection Established hello',
      );
      assert.equal(await tunnel(proxy.port, `evil.example:443`), 'HTTP/1.1 403 Forbidden');
      assert.equal(await tunnel(proxy.port, `boom.example:443`), 'HTTP/1.1 403 Forbidden');
      assert.equal(await tunnel(proxy.port, `no-port-here`), 'HTTP/1.1 400 Bad Request');
      assert.deepEqual(asked, [`127.0.0.1:${port}`, 'evil.example:443', 'boom.example:443']);
    } finally {
      await proxy.close();
    }
  });

  it('forwards plain HTTP in absolute form only when allowed, and refuses other forms', async () => {
    const web = createHttpServer((req, res) => res.end(`page ${req.url}`));
    servers.push(web as unknown as Server);
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const port = (web.address() as { port: number }).port;
    const proxy = await startEgressProxy(async (host, p) => ({
      allow: host === '127.0.0.1' && p === port,
      decisionId: 'd2',
    }));
    const via = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port: proxy.port, path }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', () => resolve({ status: 0, body: 'closed' }));
        req.end();
      });
    try {
      assert.deepEqual(await via(`http://127.0.0.1:${port}/ok?x=1`), {
        status: 200,
        body: 'page /ok?x=1',
      });
      assert.equal((await via('http://evil.example/steal')).status, 403);
      // Origin form names no destination; https:// must go through CONNECT.
      assert.equal((await via('/relative')).status, 400);
      assert.equal((await via(`https://127.0.0.1:${port}/`)).status, 400);
      // Mapped IPv6 is decided as the IPv4 address it reaches.
      assert.deepEqual(await via(`http://[::ffff:7f00:1]:${port}/m`), {
        status: 200,
        body: 'page /m',
      });
    } finally {
      await proxy.close();
    }
  });

  it('decides an IPv4-mapped IPv6 destination as its IPv4 address, on both paths', async () => {
    const port = await upstream();
    const asked: string[] = [];
    // "Nothing in 10.0.0.0/8; loopback allowed" as a decision sees it.
    const proxy = await startEgressProxy(async (host, p) => {
      asked.push(`${host}:${p}`);
      return { allow: !host.startsWith('10.') && host === '127.0.0.1', decisionId: 'd3' };
    });
    try {
      assert.equal(await tunnel(proxy.port, '[::ffff:a00:1]:443'), 'HTTP/1.1 403 Forbidden');
      assert.equal(
        await tunnel(proxy.port, `[::ffff:7f00:1]:${port}`),
        'HTTP/1.1 200 Connection Established hello',
      );
      // 010.0.0.1 is 8.0.0.1 to the resolver, so it is decided as 8.0.0.1.
      assert.equal(await tunnel(proxy.port, '010.0.0.1:443'), 'HTTP/1.1 403 Forbidden');
      assert.equal(await tunnel(proxy.port, '1.2.3.4.5:443'), 'HTTP/1.1 400 Bad Request');
      assert.deepEqual(asked, ['10.0.0.1:443', `127.0.0.1:${port}`, '8.0.0.1:443']);
    } finally {
      await proxy.close();
    }
  });

  it('decides every form the kernel connects to loopback as loopback, on both paths', async () => {
    const port = await upstream();
    const web = createHttpServer((_req, res) => res.end('local page'));
    servers.push(web as unknown as Server);
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const webPort = (web.address() as { port: number }).port;
    const asked: string[] = [];
    // "Anything but loopback" as a decision sees it: the unspecified address reaches loopback.
    const proxy = await startEgressProxy(async (host, p) => {
      asked.push(`${host}:${p}`);
      return { allow: host !== '127.0.0.1' && host !== '::1', decisionId: 'd4' };
    });
    try {
      for (const dest of ['0.0.0.0', '[::]', '[::ffff:0.0.0.0]', '0', '127.1', '0x7f000001'])
        assert.equal(await tunnel(proxy.port, `${dest}:${port}`), 'HTTP/1.1 403 Forbidden', dest);
      const status = (url: string) =>
        new Promise<number>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: proxy.port, path: url }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(0));
          req.end();
        });
      for (const host of ['0.0.0.0', '[::]', '[::ffff:0.0.0.0]', '0', '127.1'])
        assert.equal(await status(`http://${host}:${webPort}/`), 403, host);
      assert.ok(
        asked.every((a) => a.startsWith('127.0.0.1:') || a.startsWith('::1:')),
        `${asked}`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('under isolation refuses before any decision, naming the isolation, and lets the baseline through', async () => {
    const port = await upstream();
    const asked: string[] = [];
    const proxy = await startEgressProxy(async (host, p) => {
      asked.push(`${host}:${p}`);
      return { allow: true, decisionId: 'd5' };
    });
    const body = (dest: string) =>
      new Promise<string>((resolve) => {
        const s = connect(proxy.port, '127.0.0.1', () =>
          s.write(`CONNECT ${dest} HTTP/1.1\r\nHost: ${dest}\r\n\r\n`),
        );
        let buf = '';
        s.on('data', (d) => (buf += d));
        s.on('close', () => resolve(buf.split('\r\n\r\n')[1] ?? ''));
      });
    try {
      proxy.isolate({ reason: 'agent bot is isolated (no egress) by alice: exfiltration' });
      assert.equal(await tunnel(proxy.port, `127.0.0.1:${port}`), 'HTTP/1.1 403 Forbidden');
      assert.deepEqual(JSON.parse(await body(`127.0.0.1:${port}`)), {
        error: 'forbidden by isolation',
        destination: `127.0.0.1:${port}`,
        reason: 'agent bot is isolated (no egress) by alice: exfiltration',
      });
      assert.deepEqual(asked, [], 'no decision is asked for while isolated');
      // egress "baseline": what it allows still goes to the decision.
      proxy.isolate({ reason: 'baseline only', allows: (h, p) => h === '127.0.0.1' && p === port });
      assert.equal(
        await tunnel(proxy.port, `127.0.0.1:${port}`),
        'HTTP/1.1 200 Connection Established hello',
      );
      assert.equal(await tunnel(proxy.port, 'example.com:443'), 'HTTP/1.1 403 Forbidden');
      proxy.isolate(undefined);
      assert.equal(
        await tunnel(proxy.port, `127.0.0.1:${port}`),
        'HTTP/1.1 200 Connection Established hello',
      );
      assert.deepEqual(asked, [`127.0.0.1:${port}`, `127.0.0.1:${port}`]);
    } finally {
      await proxy.close();
    }
  });

  it('an isolation applied while a decision is pending still refuses it (the allow came too late)', async () => {
    const port = await upstream();
    let release!: () => void;
    const pending = new Promise<void>((r) => (release = r));
    const proxy = await startEgressProxy(async () => {
      await pending;
      return { allow: true, decisionId: 'd6' };
    });
    try {
      const got = tunnel(proxy.port, `127.0.0.1:${port}`);
      await new Promise((r) => setTimeout(r, 50));
      proxy.isolate({ reason: 'isolated meanwhile' });
      release();
      assert.equal(await got, 'HTTP/1.1 403 Forbidden');
    } finally {
      await proxy.close();
    }
  });

  it('closes the open tunnels and requests of an isolated agent, and only those it refuses', async () => {
    const held: Socket[] = [];
    const s = createServer((c) => {
      c.on('error', () => {});
      held.push(c);
      c.write('hello');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    const web = createHttpServer((_req, res) => res.write('partial')); // never ends
    servers.push(web as unknown as Server);
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    const webPort = (web.address() as { port: number }).port;
    const proxy = await startEgressProxy(async () => ({ allow: true, decisionId: 'd7' }));
    /** An open connection through the proxy: resolves `opened` on data, `closed` when it ends. */
    const open = (write: string) => {
      let opened!: () => void;
      const o = new Promise<void>((r) => (opened = r));
      const c = connect(proxy.port, '127.0.0.1', () => c.write(write));
      c.once('data', () => opened());
      c.on('error', () => {});
      const closed = new Promise<void>((r) => c.on('close', () => r()));
      return { opened: o, closed, sock: c };
    };
    try {
      const t1 = open(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const t2 = open(`CONNECT localhost:${port} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r1 = open(`GET http://127.0.0.1:${webPort}/stream HTTP/1.1\r\nHost: x\r\n\r\n`);
      await Promise.all([t1.opened, t2.opened, r1.opened]);
      // Baseline: localhost stays; the address is refused, its tunnel and request closed.
      assert.equal(proxy.isolate({ reason: 'baseline only', allows: (h) => h === 'localhost' }), 2);
      await Promise.all([t1.closed, r1.closed]);
      assert.equal(t2.sock.destroyed, false);
      assert.equal(proxy.isolate({ reason: 'no egress' }), 1);
      await t2.closed;
    } finally {
      for (const c of held) c.destroy();
      await proxy.close();
    }
  });

  it('parses host:port and [v6]:port, and nothing else', () => {
    assert.deepEqual(parseAuthority('API.example.com:443'), { host: 'api.example.com', port: 443 });
    assert.deepEqual(parseAuthority('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseAuthority('[::ffff:a00:1]:443'), { host: '10.0.0.1', port: 443 });
    // The resolver reads 010.0.0.1 as 8.0.0.1 (octal): decided as what it connects to.
    assert.deepEqual(parseAuthority('010.0.0.1:443'), { host: '8.0.0.1', port: 443 });
    assert.deepEqual(parseAuthority('0.0.0.0:80'), { host: '127.0.0.1', port: 80 });
    assert.deepEqual(parseAuthority('[::]:80'), { host: '::1', port: 80 });
    for (const bad of [
      'example.com',
      'a:0',
      'a:70000',
      'a b:1',
      '::1:80',
      'http://a:1',
      '1.2.3.4.:443',
      '08.0.0.1:80',
      '[1:2:3:4::5:6:7:8]:80',
    ])
      assert.equal(parseAuthority(bad), undefined, bad);
  });
});

describe('cgroup v2 mount', () => {
  it('is found beside v1 controllers (hybrid) in mountinfo', () => {
    const info = [
      '30 22 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755',
      '31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
      '40 30 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
    ].join('\n');
    assert.equal(findCgroup2Mount(info), '/sys/fs/cgroup/unified');
    assert.equal(
      findCgroup2Mount('31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu'),
      undefined,
    );
  });
});
