// The change bus between nodes: Redis pub/sub when storage.redis is set, PostgreSQL
// LISTEN/NOTIFY always. A message goes out on both (changes are rare: a policy reload, an
// isolation, a revocation, an answered approval, a baseline) and every node listens on both,
// dropping the second copy by the message's id: a node whose Redis connection is down still
// hears every peer through PostgreSQL, and the first copy to arrive (usually Redis's) counts.
// Messages only tell nodes to read again: what they read comes from PostgreSQL, so a lost
// message delays a change (until the cache's next read) but never makes a decision use
// something PostgreSQL does not hold.

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { ChangeBus, ChangeTopic } from '../ports.js';
import type { PostgresDb } from './db.js';
import { shownUrl } from './url.js';

const TOPICS: readonly ChangeTopic[] = [
  'policy',
  'isolation',
  'revocation',
  'approval',
  'baseline',
];
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_NOTIFY = 7900;

/** How long a message id is remembered to drop its second copy. */
const SEEN_MS = 60_000;

type Handler = (message: string) => void;
interface Envelope {
  id: string;
  topic: ChangeTopic;
  message: string;
}

export class NodeBus implements ChangeBus {
  private readonly handlers = new Map<ChangeTopic, Set<Handler>>();
  /** The NOTIFY channel of this schema (an identifier of at most 63 bytes). */
  private readonly channel: string;
  /** Redis channels: `cordon:<schema>:<topic>`. */
  private readonly prefix: string;
  private listener: pg.Client | undefined;
  private listenerDown: string | undefined = 'not connected yet';
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private backoff = 100;
  private closed = false;
  private readonly redisPub: Redis | undefined;
  private readonly redisSub: Redis | undefined;
  private redisError: string | undefined;
  /** Ids of messages delivered, with when: the other path's copy is dropped. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly db: PostgresDb,
    private readonly redisUrl: string | undefined,
  ) {
    this.channel = `cordon_bus_${db.schema}`.slice(0, 63);
    this.prefix = `cordon:${db.schema}:`;
    if (redisUrl) {
      const common = {
        connectTimeout: 2000,
        // Reconnect forever, at most every 2 s: Redis coming back restores the fast path.
        retryStrategy: (n: number) => Math.min(100 * n, 2000),
        lazyConnect: true,
      };
      // A publish while Redis is away fails at once (and goes to PostgreSQL) instead of
      // waiting in a queue for a reconnect.
      this.redisPub = new Redis(redisUrl, {
        ...common,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 1000,
      });
      this.redisSub = new Redis(redisUrl, { ...common, maxRetriesPerRequest: null });
      for (const r of [this.redisPub, this.redisSub]) {
        r.on('error', (e: Error) => {
          this.redisError = e.message || String(e);
        });
        r.on('ready', () => {
          if (this.redisPub?.status === 'ready' && this.redisSub?.status === 'ready')
            this.redisError = undefined;
        });
      }
      this.redisSub.on('message', (channel: string, payload: string) => {
        if (channel.startsWith(this.prefix)) this.receive(payload);
      });
    }
  }

  /** Connects the listeners; resolves once PostgreSQL listens (Redis may come later). */
  async start(): Promise<void> {
    await this.listen();
    if (this.redisPub && this.redisSub) {
      // The subscription waits in the connection's queue until Redis answers (now or after a
      // reconnect), and is renewed on every reconnect after that.
      const ready = Promise.allSettled([
        this.redisPub.connect(),
        this.redisSub.subscribe(...TOPICS.map((t) => this.prefix + t)),
      ]);
      // Redis down at start is not fatal: notifications go through PostgreSQL meanwhile.
      await Promise.race([ready, new Promise((r) => setTimeout(r, 2500).unref())]);
    }
  }

  private async listen(): Promise<void> {
    const c = new pg.Client(this.db.clientConfig());
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, new Error('connection ended')));
    c.on('notification', (n) => {
      if (n.channel === this.channel && n.payload) this.receive(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      c.removeAllListeners('end');
      await c.end().catch(() => {});
      this.listenerDown = (e as Error).message;
      throw this.db.failure('listening for changes', e);
    }
    this.listener = c;
    this.listenerDown = undefined;
    this.backoff = 100;
    // A connection the network left hanging says nothing: ask it something now and then, and
    // take an answer that does not come (the query timeout) as a lost connection.
    this.heartbeat = setInterval(
      () => void c.query('SELECT 1').catch((e: Error) => this.lost(c, e)),
      this.db.queryTimeoutMs,
    );
    this.heartbeat.unref();
  }

  /** The listening connection ended: connect again, with backoff, until it works or we close. */
  private lost(c: pg.Client, e: Error): void {
    if (this.listener !== c || this.closed) return;
    clearInterval(this.heartbeat);
    this.listener = undefined;
    this.listenerDown = e.message;
    c.end().catch(() => {});
    const again = () => {
      this.retry = undefined;
      if (this.closed) return;
      this.listen().catch(() => {
        this.backoff = Math.min(this.backoff * 2, 5000);
        this.retry = setTimeout(again, this.backoff);
        this.retry.unref();
      });
    };
    this.retry = setTimeout(again, this.backoff);
    this.retry.unref();
  }

  private receive(payload: string): void {
    let e: Envelope;
    try {
      e = JSON.parse(payload) as Envelope;
    } catch {
      return; // not one of ours
    }
    if (typeof e?.id !== 'string' || !TOPICS.includes(e.topic) || typeof e.message !== 'string')
      return;
    const now = Date.now();
    if (this.seen.has(e.id)) return;
    this.seen.set(e.id, now);
    // Insertion order is arrival order: forget from the oldest on.
    for (const [id, at] of this.seen) {
      if (now - at < SEEN_MS) break;
      this.seen.delete(id);
    }
    this.deliver(e.topic, e.message);
  }

  private deliver(topic: ChangeTopic, message: string): void {
    // A subscriber's failure is its own: the other subscribers still hear the change.
    for (const h of [...(this.handlers.get(topic) ?? [])])
      try {
        h(message);
      } catch {
        /* the subscriber reports its own errors */
      }
  }

  private redisUp(): boolean {
    return this.redisPub?.status === 'ready' && this.redisSub?.status === 'ready';
  }

  /** Resolves once one path carried the message; rejects when neither could. */
  async publish(topic: ChangeTopic, message: string): Promise<void> {
    if (!TOPICS.includes(topic)) throw new Error(`unknown change topic ${topic}`);
    const payload = JSON.stringify({ id: randomUUID(), topic, message } satisfies Envelope);
    if (Buffer.byteLength(payload) > MAX_NOTIFY)
      throw new Error(
        `a change message on ${topic} is too long for PostgreSQL NOTIFY (${payload.length} bytes)`,
      );
    const viaPostgres = this.db
      .query('publishing a change', 'SELECT pg_notify($1, $2)', [this.channel, payload])
      .then(() => {});
    if (!(this.redisPub && this.redisUp())) return viaPostgres;
    const viaRedis = this.redisPub.publish(this.prefix + topic, payload).then(
      () => {},
      (e: Error) => {
        this.redisError = e.message;
        throw e;
      },
    );
    try {
      await Promise.any([viaRedis, viaPostgres]);
    } catch {
      await viaPostgres; // PostgreSQL's reason is the one that matters
    }
  }

  subscribe(topic: ChangeTopic, handler: Handler): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    // One entry per subscription, even for the same function twice.
    const entry: Handler = (m) => handler(m);
    set.add(entry);
    return () => set.delete(entry);
  }

  /** The bus's parts for /healthz. */
  async health(): Promise<Record<string, string>> {
    const h: Record<string, string> = {
      notifications: this.listenerDown
        ? `down: PostgreSQL listener (${this.listenerDown}), reconnecting`
        : 'ok',
    };
    if (this.redisPub && this.redisUrl) {
      // Connected is not answering: a Redis that hangs shows here (commandTimeout).
      if (this.redisUp())
        await this.redisPub.ping().then(
          () => (this.redisError = undefined),
          (e: Error) => (this.redisError = e.message),
        );
      h.redis =
        this.redisUp() && !this.redisError
          ? 'ok'
          : `down: ${shownUrl(this.redisUrl)} ${this.redisError ?? this.redisPub.status} (notifications via PostgreSQL)`;
    }
    return h;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const c = this.listener;
    this.listener = undefined;
    await c?.end().catch(() => {});
    this.redisPub?.disconnect();
    this.redisSub?.disconnect();
  }
}
