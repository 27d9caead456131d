// Tests that need PostgreSQL or Redis (the scale-out backend, docs/deploy.md) skip with a reason
// where the server is not reachable; CI sets CORDON_REQUIRE_SERVICES=1, and there an absent
// server fails the test file instead. Each test run works in a throwaway PostgreSQL schema.

import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { postgresConfig, shownUrl as shown } from '../store/postgres/url.js';
import { freePort } from './net.js';

/** The test PostgreSQL (trust auth, database `test`); CORDON_TEST_POSTGRES overrides. */
export const TEST_POSTGRES = process.env.CORDON_TEST_POSTGRES || 'postgres://127.0.0.1:5432/test';
/** The test Redis; CORDON_TEST_REDIS overrides. */
export const TEST_REDIS = process.env.CORDON_TEST_REDIS || 'redis://127.0.0.1:6379';

const required = () => process.env.CORDON_REQUIRE_SERVICES === '1';

function missing(what: string, why: string): string {
  const reason = `${what} is not reachable (${why})`;
  if (required()) throw new Error(`${reason}, and CORDON_REQUIRE_SERVICES=1 requires it`);
  return reason;
}

const probes = new Map<string, Promise<string | undefined>>();

/**
 * Why the test PostgreSQL cannot be used (undefined when it answers a query), for node:test's
 * `skip` option; throws under CORDON_REQUIRE_SERVICES=1. Probed once per process.
 */
export function postgresMissing(url = TEST_POSTGRES): Promise<string | undefined> {
  const key = `pg ${url}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const client = new pg.Client({ ...postgresConfig(url), connectionTimeoutMillis: 3000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return undefined;
      } catch (e) {
        return missing(`PostgreSQL at ${shown(url)}`, (e as Error).message || String(e));
      } finally {
        await client.end().catch(() => {});
      }
    })();
    probes.set(key, p);
  }
  return p;
}

/** Like postgresMissing, for the test Redis (undefined when it answers PING). */
export function redisMissing(url = TEST_REDIS): Promise<string | undefined> {
  const key = `redis ${url}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const r = new Redis(url, {
        lazyConnect: true,
        connectTimeout: 3000,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => null,
      });
      // The connection's own error (ECONNREFUSED …) says more than the rejected command's.
      let cause: Error | undefined;
      r.on('error', (e: Error) => (cause ??= e));
      try {
        await r.connect();
        const pong = await r.ping();
        return pong === 'PONG' ? undefined : missing(`Redis at ${shown(url)}`, `PING: ${pong}`);
      } catch (e) {
        return missing(`Redis at ${shown(url)}`, (cause ?? (e as Error)).message || String(e));
      } finally {
        r.disconnect();
      }
    })();
    probes.set(key, p);
  }
  return p;
}

export interface ThrowawaySchema {
  /** A fresh schema name (lower case, safe to use unquoted). Nothing is created. */
  readonly name: string;
  /** Drops the schema and everything in it (DROP SCHEMA … CASCADE); never throws. */
  drop(): Promise<void>;
}

/**
 * A schema name of its own for this test run (`cordon_test_<label>_<random>`), dropped by
 * `drop()`: call it from `after()`. Whatever creates the schema (the backend's migrations do)
 * works in it, so runs in parallel and runs left over from a crash never meet.
 */
export function throwawaySchema(label = 'run', url = TEST_POSTGRES): ThrowawaySchema {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  const name = `cordon_test_${safe}_${randomBytes(5).toString('hex')}`;
  return {
    name,
    async drop() {
      const client = new pg.Client({ ...postgresConfig(url), connectionTimeoutMillis: 3000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } catch {
        // An unreachable server has nothing to drop that a later run would see.
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

export interface CuttableLink {
  /** `target` with its host and port replaced by the relay's. */
  readonly url: string;
  /** Closes the relay and every connection through it: the server is gone for its clients. */
  cut(): Promise<void>;
  /** Listens again on the same port: the server is back. */
  restore(): Promise<void>;
  /**
   * Holds every byte in both directions, on open and new connections alike, with the
   * connections left open: a server (or network) that hangs rather than refuses.
   */
  freeze(): void;
  /** Delivers what was held, in order, and forwards again. */
  thaw(): void;
  close(): Promise<void>;
}

/**
 * A TCP relay on a local port in front of the server of `target` (a postgres:// or redis://
 * URL), for tests of a server lost mid-run and coming back: the real server keeps running for
 * everyone else while this link's clients see it vanish.
 */
export async function cuttableLink(target: string): Promise<CuttableLink> {
  const t = new URL(target);
  const to = { host: t.hostname, port: Number(t.port) || (t.protocol === 'redis:' ? 6379 : 5432) };
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let held: (() => void)[] | undefined;
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (d: Buffer) => {
      if (held) held.push(() => to.write(d));
      else to.write(d);
    });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(to);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        forward(client, upstream);
        forward(upstream, client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  };
  await listen();
  const u = new URL(target);
  u.host = `127.0.0.1:${port}`;
  const freeze = () => {
    held ??= [];
  };
  const thaw = () => {
    const q = held ?? [];
    held = undefined;
    for (const write of q) write();
  };
  return { url: u.toString(), cut, restore: listen, freeze, thaw, close: cut };
}

/** Skip reasons for suites needing PostgreSQL, or PostgreSQL and Redis (undefined: run). */
export async function serviceSkips(): Promise<{
  postgres: string | undefined;
  postgresAndRedis: string | undefined;
}> {
  const postgres = await postgresMissing();
  return { postgres, postgresAndRedis: postgres ?? (await redisMissing()) };
}
