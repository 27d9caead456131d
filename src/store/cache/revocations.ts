// Revocations kept whole in every process (they are few), so a token is checked without a read.
// Kept fresh from the store's change cursor: over the embedded store before every check when
// another process committed (SQLite's data_version: the CLI revoking beside a running server
// applies to the very next decision); over a network store on every 'revocation' message on the
// change bus and by polling, since a lost message must not keep a revoked token working.
//
// By jti, a revocation covers every token minted from it (tokens carry the jtis they descend
// from); by agent, it holds until lifted (reinstated): until then no token whose chain names the
// agent verifies, whenever it was issued, and no token is minted for it; after, tokens issued
// before the revocation stay revoked.

import type { AgentRevocation, ChangeBus, RevocationStore } from '../ports.js';
import { inTurn, isLocal, type LocalVersion } from './local.js';

/** The embedded store's synchronous side (store/sqlite/revocations.ts). */
interface LocalRevocations extends LocalVersion {
  changesNow(after: number): { tokens: string[]; agents: AgentRevocation[]; cursor: number };
}

/** What token verification asks (identity/tokens.ts), synchronously. */
export interface RevocationCheck {
  /** Whether the agent's revocation is in force (nothing may be delegated to it). */
  agentRevoked(agent: string): boolean;
  /**
   * Why the token is revoked, or undefined. `lineage`: the jtis it was minted from, root first;
   * `issuedAt` in ms.
   */
  check(jti: string, chain: string[], issuedAt: number, lineage?: string[]): string | undefined;
}

/** How often a process over a network store reads changes even without a bus message. */
const POLL_MS = 1000;

export class Revocations implements RevocationCheck {
  private readonly tokens = new Set<string>();
  private readonly agents = new Map<string, AgentRevocation>();
  private cursor = 0;
  private seen = -1;
  private readonly local: LocalRevocations | undefined;
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout | undefined;
  /** The read in flight over a network store (see inTurn). */
  private readonly turn: { reading?: Promise<void> } = {};

  private constructor(
    private readonly store: RevocationStore,
    private readonly bus: ChangeBus,
    onError: (err: unknown) => void,
  ) {
    this.local =
      isLocal(store) && 'changesNow' in store ? (store as unknown as LocalRevocations) : undefined;
    this.unsubscribe = bus.subscribe('revocation', () => void this.refresh().catch(onError));
    if (!this.local) {
      this.timer = setInterval(() => void this.refresh().catch(onError), POLL_MS);
      this.timer.unref();
    }
  }

  /** Reads every revocation once; then keeps up. */
  static async open(
    store: RevocationStore,
    bus: ChangeBus,
    onError: (err: unknown) => void = () => {},
  ): Promise<Revocations> {
    const r = new Revocations(store, bus, onError);
    try {
      await r.refresh();
    } catch (e) {
      r.close();
      throw e;
    }
    return r;
  }

  private apply(c: { tokens: string[]; agents: AgentRevocation[]; cursor: number }): void {
    for (const t of c.tokens) this.tokens.add(t);
    for (const a of c.agents) this.agents.set(a.agent, a);
    this.cursor = Math.max(this.cursor, c.cursor);
  }

  /** Reads what changed since the cursor (one read at a time, so none is applied twice). */
  refresh(): Promise<void> {
    if (this.local) {
      this.seen = this.local.version();
      this.apply(this.local.changesNow(this.cursor));
      return Promise.resolve();
    }
    return inTurn(this.turn, async () => this.apply(await this.store.changes(this.cursor)));
  }

  /** Over the embedded store: reads now if another process committed since the last read. */
  private fresh(): void {
    if (this.local && this.local.version() !== this.seen) void this.refresh();
  }

  /** Revokes one token and every token minted from it. */
  async revokeToken(jti: string, at = new Date()): Promise<void> {
    await this.store.revokeToken(jti, at);
    await this.changed();
  }

  /** Revokes every token in whose chain the agent appears, until `reinstateAgent`. */
  async revokeAgent(agent: string, at = new Date()): Promise<void> {
    await this.store.revokeAgent(agent, at);
    await this.changed();
  }

  /** Lifts an agent's revocation; false when it was not revoked. */
  async reinstateAgent(agent: string, at = new Date()): Promise<boolean> {
    const lifted = await this.store.reinstateAgent(agent, at);
    if (lifted) await this.changed();
    return lifted;
  }

  /** This process applies its own change at once; the others hear of it on the bus. */
  private async changed(): Promise<void> {
    await this.refresh();
    await this.bus.publish('revocation', String(this.cursor));
  }

  agentRevoked(agent: string): boolean {
    this.fresh();
    const a = this.agents.get(agent);
    return a !== undefined && a.lifted === undefined;
  }

  check(
    jti: string,
    chain: string[],
    issuedAt: number,
    lineage: string[] = [],
  ): string | undefined {
    this.fresh();
    if (this.tokens.has(jti)) return `token ${jti} was revoked`;
    for (const ancestor of lineage)
      if (this.tokens.has(ancestor))
        return `token ${ancestor}, which this token was minted from, was revoked`;
    for (const agent of chain) {
      const a = this.agents.get(agent);
      if (!a) continue;
      if (a.lifted === undefined) return `agent "${agent}" is revoked`;
      if (a.at >= issuedAt)
        return `tokens of agent "${agent}" issued before its revocation were revoked`;
    }
    return undefined;
  }

  close(): void {
    this.unsubscribe();
    if (this.timer) clearInterval(this.timer);
  }
}
