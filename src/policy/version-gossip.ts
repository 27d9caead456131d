// Which policy version every node serves, told over the store's change bus (topic 'policy'): a
// node publishes its version when it loads a set and then at every heartbeat, and keeps what
// its peers said. A peer serving another version is reported (/healthz, a metric) until it
// catches up, or until it has not been heard for three heartbeats (a node that stopped does not
// leave a stale version behind). Messages are small JSON objects; a malformed one is ignored,
// since the bus is shared and a bad message must never stop a node.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ChangeBus } from '../store/ports.js';

export interface PeerVersion {
  node: string;
  version: string;
  /** When it was last heard (ISO time). */
  seen: string;
}

export interface PolicyPeers {
  /** This node's name on the bus. */
  node: string;
  /** Peers heard within the last three heartbeats. */
  peers: number;
  /** Those among them serving a version other than this node's. */
  differing: PeerVersion[];
}

interface Message {
  node: string;
  version: string;
}

function parse(text: string): Message | undefined {
  try {
    const m = JSON.parse(text) as Partial<Message>;
    if (typeof m.node === 'string' && typeof m.version === 'string' && m.node.length <= 256)
      return { node: m.node, version: m.version.slice(0, 128) };
  } catch {
    // not ours, or garbled: ignored
  }
  return undefined;
}

export interface GossipOptions {
  bus: ChangeBus;
  /** The version this node serves now. */
  current: () => string;
  /** How often to tell the peers (default 15 s). */
  heartbeatMs?: number;
  /** This node's name (default: host name and a random suffix, unique per process). */
  node?: string;
  /** A publish that failed (the bus is down): reported, never thrown. */
  onError?: (e: Error) => void;
  now?: () => number;
}

export class PolicyVersionGossip {
  readonly node: string;
  private readonly peers = new Map<string, { version: string; seen: number }>();
  private readonly heartbeatMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: GossipOptions) {
    this.node = o.node ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
    this.heartbeatMs = o.heartbeatMs ?? 15_000;
    this.now = o.now ?? Date.now;
  }

  /** Listens to the peers, tells them this node's version now and at every heartbeat. */
  async start(): Promise<this> {
    this.unsubscribe = this.o.bus.subscribe('policy', (text) => {
      const m = parse(text);
      if (!m || m.node === this.node) return;
      const known = this.peers.get(m.node);
      this.peers.set(m.node, { version: m.version, seen: this.now() });
      // A newcomer learns every version at once instead of after a heartbeat.
      if (!known) void this.publish();
    });
    this.timer = setInterval(() => void this.publish(), this.heartbeatMs);
    this.timer.unref();
    await this.publish();
    return this;
  }

  /** Tells the peers the version this node serves (call after a load or reload). */
  async publish(): Promise<void> {
    try {
      await this.o.bus.publish(
        'policy',
        JSON.stringify({ node: this.node, version: this.o.current() }),
      );
    } catch (e) {
      this.o.onError?.(e as Error);
    }
  }

  status(): PolicyPeers {
    const mine = this.o.current();
    const horizon = this.now() - 3 * this.heartbeatMs;
    const differing: PeerVersion[] = [];
    let peers = 0;
    for (const [node, p] of this.peers) {
      if (p.seen < horizon) {
        this.peers.delete(node);
        continue;
      }
      peers++;
      if (p.version !== mine)
        differing.push({ node, version: p.version, seen: new Date(p.seen).toISOString() });
    }
    differing.sort((a, b) => (a.node < b.node ? -1 : 1));
    return { node: this.node, peers, differing };
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }
}
