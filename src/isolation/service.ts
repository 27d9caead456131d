// The isolation state every enforcement point applies (docs/risk-and-baselines.md, "Isolation"):
// per agent, optionally narrowed to one user or session, kept in the IsolationStore so it
// outlives restarts and is shared by every node. Each process holds the states in force in
// memory (the decision path looks them up without I/O), refreshed when the change bus says
// "isolation" and at least every `refreshMs` (1 s), so a change made on any node applies to the
// very next action on every node, within a second at worst.
//
// Fail closed: `open` reads the store before anything is served and throws if it cannot (the
// server refuses to start); a later refresh that fails keeps the last states read, so recorded
// isolations stay applied while the store is unreachable. Expired states (`until`) stop applying
// at once (the lookup checks the time), and the refresh reports their expiry.
//
// Listeners (`onChange`) hear every state that starts, changes or ends as this process sees it:
// the sandbox closes processes and egress with them, the MCP gateway its sessions.

import type { Logger } from 'pino';
import type { IsolationLookup } from '../core/isolation.js';
import {
  isolationKey,
  type ChangeBus,
  type IsolationMeasures,
  type IsolationState,
  type IsolationStore,
} from '../store/ports.js';

export type IsolationChangeKind = 'applied' | 'released' | 'expired';

export interface IsolationChange {
  kind: IsolationChangeKind;
  state: IsolationState;
  /** Released: who released it and why. */
  by?: string;
  reason?: string;
}

/** Records one change in the audit log (src/isolation/audit.ts). */
export type IsolationRecorder = (change: IsolationChange) => Promise<void>;

export interface IsolationServiceOptions {
  store: IsolationStore;
  bus?: ChangeBus;
  /** The longest a change made elsewhere goes unseen without a bus message (ms; default 1000). */
  refreshMs?: number;
  clock?: () => Date;
  log?: Logger;
  /** Every apply and release made here, and every expiry seen here, is recorded through it. */
  record?: IsolationRecorder;
  /** Whether the agent exists (entities.json): isolating an unknown agent is an error. */
  knownAgent?: (agent: string) => boolean;
  /**
   * Actions taken once per change, by the node that made it (revoking the agent's delegation
   * tokens, the credential-rotation webhook). What every node must do itself (closing its own
   * sessions and processes) listens with `onChange` instead.
   */
  actuators?: IsolationActuator[];
}

/** Acts on an isolation applied or released here; a failure is logged, the change stands. */
export type IsolationActuator = (c: IsolationChange) => void | Promise<void>;

export interface IsolationScope {
  agent: string;
  user?: string;
  session?: string;
}

/** A request to isolate: the scope, the measures, why and by whom. */
export interface IsolationRequest extends IsolationScope {
  measures: IsolationMeasures;
  reason: string;
  by: string;
  decisionId?: string;
  until?: Date;
}

/** An isolation command that cannot be carried out (unknown agent, nothing to take away …). */
export class IsolationError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 = 400,
  ) {
    super(message);
  }
}

/** True when `m` takes nothing away. */
export const noMeasures = (m: IsolationMeasures): boolean =>
  !m.full && !m.readOnly && !m.noDelegation && !m.egress && !(m.revokedTools?.length ?? 0);

/** The union of two sets of measures (a new restriction never lifts part of an older one). */
export function unionMeasures(a: IsolationMeasures, b: IsolationMeasures): IsolationMeasures {
  const out: IsolationMeasures = {};
  const tools = [...new Set([...(a.revokedTools ?? []), ...(b.revokedTools ?? [])])].sort();
  if (tools.length > 0) out.revokedTools = tools;
  const egress =
    a.egress === 'none' || b.egress === 'none' ? 'none' : (a.egress ?? b.egress ?? undefined);
  if (egress) out.egress = egress;
  if (a.readOnly || b.readOnly) out.readOnly = true;
  if (a.noDelegation || b.noDelegation) out.noDelegation = true;
  if (a.full || b.full) out.full = true;
  return out;
}

/** Whether `have` already takes away everything `want` does. */
export function covers(have: IsolationMeasures, want: IsolationMeasures): boolean {
  if (have.full) return true;
  if (want.full) return false;
  if (want.readOnly && !have.readOnly) return false;
  if (want.noDelegation && !have.noDelegation) return false;
  if (want.egress === 'none' && have.egress !== 'none') return false;
  if (want.egress === 'baseline' && !have.egress) return false;
  const tools = new Set(have.revokedTools ?? []);
  return (want.revokedTools ?? []).every((t) => tools.has(t));
}

const sameState = (a: IsolationState, b: IsolationState) => JSON.stringify(a) === JSON.stringify(b);

export class IsolationService implements IsolationLookup {
  /** agent → its states in force (few: agent-wide, per user, per session). */
  private byAgent = new Map<string, IsolationState[]>();
  private byKey = new Map<string, IsolationState>();
  private readonly listeners = new Set<(c: IsolationChange) => void>();
  private readonly clock: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;
  /** Why the last refresh failed, while the store cannot be read ("ok" otherwise). */
  private status = 'ok';
  private closed = false;

  private constructor(private readonly o: IsolationServiceOptions) {
    this.clock = o.clock ?? (() => new Date());
  }

  /**
   * Reads the states in force, then follows the bus and refreshes periodically. Throws when the
   * store cannot be read: nothing may be decided without knowing who is isolated.
   */
  static async open(o: IsolationServiceOptions): Promise<IsolationService> {
    const s = new IsolationService(o);
    try {
      s.load(await o.store.active(s.clock()), false);
    } catch (e) {
      throw new Error(
        `the isolation store cannot be read, so nothing can be decided: ${(e as Error).message}`,
        { cause: e },
      );
    }
    s.unsubscribe = o.bus?.subscribe('isolation', () => void s.refresh());
    s.timer = setInterval(() => void s.refresh(), o.refreshMs ?? 1000);
    s.timer.unref();
    return s;
  }

  /** Hot path: the states in force at `now` covering this agent, user and session. */
  statesFor(
    agent: string,
    user: string | undefined,
    session: string | undefined,
    now: Date,
  ): IsolationState[] {
    const states = this.byAgent.get(agent);
    if (!states) return [];
    const t = now.toISOString();
    return states.filter(
      (s) =>
        (s.user === undefined || s.user === user) &&
        (s.session === undefined || s.session === session) &&
        (s.until === undefined || s.until > t),
    );
  }

  /** Every state in force (`cordon isolation list`), agent-wide ones first. */
  list(agent?: string): IsolationState[] {
    const now = this.clock().toISOString();
    const all = agent ? (this.byAgent.get(agent) ?? []) : [...this.byKey.values()];
    return all
      .filter((s) => s.until === undefined || s.until > now)
      .sort(
        (a, b) =>
          a.agent.localeCompare(b.agent) ||
          Number(a.user !== undefined) - Number(b.user !== undefined) ||
          Number(a.session !== undefined) - Number(b.session !== undefined) ||
          a.at.localeCompare(b.at),
      );
  }

  /** "ok", or why the store could not be read on the last refresh (for /healthz). */
  health(): string {
    return this.status;
  }

  /** Hears every state that starts, changes, ends or expires. Returns the unsubscribe function. */
  onChange(listener: (c: IsolationChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Applies an isolation (replacing what its scope had), records it, and tells every node.
   * Resolves once this process applies it to the next decision.
   */
  async apply(r: IsolationRequest): Promise<IsolationState> {
    this.check(r);
    if (noMeasures(r.measures))
      throw new IsolationError('an isolation must take something away (no measure was given)');
    if (!r.reason.trim()) throw new IsolationError('an isolation needs a reason');
    const now = this.clock();
    if (r.until && r.until <= now) throw new IsolationError('--until must be in the future');
    const state: IsolationState = {
      agent: r.agent,
      ...(r.user !== undefined ? { user: r.user } : {}),
      ...(r.session !== undefined ? { session: r.session } : {}),
      measures: r.measures,
      reason: r.reason,
      by: r.by,
      ...(r.decisionId ? { decisionId: r.decisionId } : {}),
      at: now.toISOString(),
      ...(r.until ? { until: r.until.toISOString() } : {}),
    };
    await this.o.store.put(state);
    const change: IsolationChange = { kind: 'applied', state };
    await this.recorded(change);
    await this.changed();
    await this.actuate(change);
    return state;
  }

  /**
   * Adds `r`'s measures to what its scope already has (a policy or risk response): nothing is
   * written when the scope already takes all of it away. Returns the state written, if any.
   */
  async restrict(r: IsolationRequest): Promise<IsolationState | undefined> {
    const current = () => {
      const have = this.byKey.get(isolationKey(r));
      const live = have && (have.until === undefined || have.until > this.clock().toISOString());
      return live ? have : undefined;
    };
    // The cache answers the usual case (already covered) without reading the store; before
    // writing, read it, so a measure another node applied a moment ago is kept in the union.
    const cached = current();
    if (cached && covers(cached.measures, r.measures)) return undefined;
    await this.refresh();
    const have = current();
    if (have && covers(have.measures, r.measures)) return undefined;
    return this.apply(
      have
        ? {
            ...r,
            measures: unionMeasures(have.measures, r.measures),
            reason: have.reason === r.reason ? r.reason : `${have.reason}; ${r.reason}`,
            by: have.by === r.by ? r.by : `${have.by}, ${r.by}`,
          }
        : r,
    );
  }

  /**
   * Releases the agent's isolation: the one scope given, or (no user, no session) every state
   * the agent has. Returns the states released; an IsolationError(404) when there were none.
   */
  async release(scope: IsolationScope, by: string, reason?: string): Promise<IsolationState[]> {
    this.check(scope);
    await this.refresh(); // what another node applied a moment ago is released too
    const targets =
      scope.user === undefined && scope.session === undefined
        ? this.list(scope.agent)
        : this.list(scope.agent).filter(
            (s) => s.user === scope.user && s.session === scope.session,
          );
    const released: IsolationChange[] = [];
    for (const s of targets) {
      if (!(await this.o.store.release(isolationKey(s), this.clock()))) continue;
      const change: IsolationChange = {
        kind: 'released',
        state: s,
        by,
        ...(reason !== undefined ? { reason } : {}),
      };
      released.push(change);
      await this.recorded(change);
    }
    if (released.length === 0)
      throw new IsolationError(
        `agent "${scope.agent}" has no isolation in force${describeScope(scope)}`,
        404,
      );
    await this.changed();
    for (const c of released) await this.actuate(c);
    return released.map((c) => c.state);
  }

  /** Reads the store again now (also called by the bus and the timer). */
  async refresh(): Promise<void> {
    if (this.closed) return;
    if (this.refreshing) {
      this.again = true; // a change arrived mid-read: read once more after
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          this.load(await this.o.store.active(this.clock()), true);
          this.status = 'ok';
        } catch (e) {
          // Keep the last states read: what was isolated stays isolated.
          this.status = `the isolation store cannot be read (the last states read stay applied): ${(e as Error).message}`;
          this.o.log?.error(
            { err: e },
            'isolation refresh failed; the last states read stay applied',
          );
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    this.listeners.clear();
  }

  private check(scope: IsolationScope): void {
    if (!scope.agent) throw new IsolationError('an agent is required');
    if (this.o.knownAgent && !this.o.knownAgent(scope.agent))
      throw new IsolationError(`unknown agent "${scope.agent}": it is not in entities.json`, 404);
  }

  /** Tells the other nodes, and applies the change here before returning. */
  private async changed(): Promise<void> {
    try {
      await this.o.bus?.publish('isolation', 'changed');
    } catch (e) {
      // The others still see it on their next periodic refresh.
      this.o.log?.warn(
        { err: e },
        'isolation change not published; other nodes see it within their refresh period',
      );
    }
    await this.refresh();
  }

  private async actuate(c: IsolationChange): Promise<void> {
    for (const a of this.o.actuators ?? []) {
      try {
        await a(c);
      } catch (e) {
        this.o.log?.error(
          { err: e, agent: c.state.agent, change: c.kind },
          'isolation actuator failed; the isolation itself stands',
        );
      }
    }
  }

  private async recorded(c: IsolationChange): Promise<void> {
    if (!this.o.record) return;
    await this.o.record(c);
  }

  /** Replaces the cache and reports what started, changed and ended since the last read. */
  private load(states: IsolationState[], report: boolean): void {
    const now = this.clock().toISOString();
    const byKey = new Map<string, IsolationState>();
    const byAgent = new Map<string, IsolationState[]>();
    for (const s of states) {
      byKey.set(isolationKey(s), s);
      const list = byAgent.get(s.agent);
      if (list) list.push(s);
      else byAgent.set(s.agent, [s]);
    }
    const before = this.byKey;
    this.byKey = byKey;
    this.byAgent = byAgent;
    if (!report) return;
    const changes: IsolationChange[] = [];
    for (const [k, s] of byKey) {
      const old = before.get(k);
      if (!old || !sameState(old, s)) changes.push({ kind: 'applied', state: s });
    }
    for (const [k, s] of before) {
      if (byKey.has(k)) continue;
      const expired = s.until !== undefined && s.until <= now;
      changes.push({ kind: expired ? 'expired' : 'released', state: s });
    }
    for (const c of changes) {
      if (c.kind === 'expired')
        void this.recorded(c).catch((e: unknown) =>
          this.o.log?.error({ err: e, agent: c.state.agent }, 'isolation expiry not recorded'),
        );
      for (const l of this.listeners) {
        try {
          l(c);
        } catch (e) {
          this.o.log?.error({ err: e }, 'isolation listener failed');
        }
      }
    }
  }
}

function describeScope(s: IsolationScope): string {
  if (s.session !== undefined) return ` for session "${s.session}"`;
  if (s.user !== undefined) return ` for user "${s.user}"`;
  return '';
}
