// The store port: every piece of state Cordon keeps, as interfaces that each backend implements
// (store/sqlite/ embedded in the data directory; store/postgres/ shared by many nodes, with
// Redis for hot counters and change notifications). One contract suite (store/contract.ts) runs
// unchanged against every backend. Stores hold no caches: the per-process caches that make a
// decision cheap live in store/cache/ and are kept fresh by cursors and the change bus, so a
// write on one node is seen by the next decision on another.

import type { ApprovalStore } from '../approval/approval.js';
import type { SessionEvent } from '../core/stages/session.js';

export type { ApprovalStore };

/** Session history: an append-only event list per key (agent+session, agent, user). */
export interface SessionEventStore {
  append(key: string, event: SessionEvent): Promise<void>;
  /**
   * The key's events after `after` (a cursor from an earlier call; 0: from the start), oldest
   * first, at most `limit`: the newest ones when there are more. `cursor` is where the next call
   * continues (unchanged when nothing is new).
   */
  events(
    key: string,
    opts: { after: number; limit: number },
  ): Promise<{ events: SessionEvent[]; cursor: number }>;
}

export interface UsageEntry {
  /** Epoch milliseconds. */
  time: number;
  tokens: number;
}

/** Model usage per key (agent, user) over the budget window. */
export interface UsageStore {
  /** One completed model request, counted for each key. */
  record(keys: string[], tokens: number, at: Date): Promise<void>;
  /** The key's entries newer than `after` (a cursor; 0 from the start) and newer than `since`. */
  entries(
    key: string,
    opts: { after: number; since: Date },
  ): Promise<{ entries: UsageEntry[]; cursor: number }>;
  /** Drops entries no window can see (older than `before`). */
  compact(before: Date): Promise<void>;
}

export interface AgentRevocation {
  agent: string;
  /** Epoch milliseconds of the (latest) revocation. */
  at: number;
  /** Epoch milliseconds it was lifted; absent while in force. */
  lifted?: number;
}

/** Revoked delegation tokens (by jti) and agents. Few enough to cache whole in every process. */
export interface RevocationStore {
  revokeToken(jti: string, at: Date): Promise<void>;
  revokeAgent(agent: string, at: Date): Promise<void>;
  /** Lifts an agent's revocation; false when it was not in force. */
  reinstateAgent(agent: string, at: Date): Promise<boolean>;
  /** Every change after `after` (a cursor; 0: everything), for the per-process cache. */
  changes(after: number): Promise<{ tokens: string[]; agents: AgentRevocation[]; cursor: number }>;
}

/** What an isolation takes away (docs/risk-and-baselines.md). Absent fields: unchanged. */
export interface IsolationMeasures {
  /** Tools (`server/tool` ids, or `*` patterns) hidden and refused. */
  revokedTools?: string[];
  /** none: no egress at all; baseline: only destinations the agent's baseline holds. */
  egress?: 'none' | 'baseline';
  /** Only tools marked read-only; no file writes, no exec. */
  readOnly?: boolean;
  /** No token exchange; the agent's delegation tokens are revoked when applied. */
  noDelegation?: boolean;
  /** All of the above, and the agent's sandboxed processes and open sessions are ended. */
  full?: boolean;
}

export interface IsolationState {
  /** Who is isolated: an agent, optionally narrowed to one user or one session. */
  agent: string;
  user?: string;
  session?: string;
  measures: IsolationMeasures;
  reason: string;
  /** Who applied it: a person, `policy:<id>`, or `risk:<level>`. */
  by: string;
  /** The decision that triggered it, when one did. */
  decisionId?: string;
  /** ISO times. */
  at: string;
  until?: string;
}

/** The scope key of an isolation: one state per agent / agent+user / agent+session. */
export const isolationKey = (s: Pick<IsolationState, 'agent' | 'user' | 'session'>) =>
  [s.agent, s.user ?? '', s.session ?? ''].join('\u0000');

export interface IsolationStore {
  /** Applies (replaces) the state for its scope. */
  put(state: IsolationState): Promise<void>;
  /** Releases one scope; false when nothing was applied there. */
  release(key: string, at: Date): Promise<boolean>;
  /** Every state in force at `now` (expired ones are left out). */
  active(now: Date): Promise<IsolationState[]>;
}

/** A baseline as the store keeps it: opaque JSON, written with optimistic concurrency. */
export interface StoredBaseline {
  /** Increments on every successful write. */
  version: number;
  data: string;
}

export interface BaselineStore {
  get(subject: string): Promise<StoredBaseline | undefined>;
  /**
   * Writes `data` if the stored version is still `expected` (0: the subject has none yet);
   * false when another writer got there first (read again, merge, retry).
   */
  put(subject: string, data: string, expected: number): Promise<boolean>;
  delete(subject: string): Promise<boolean>;
  subjects(): Promise<string[]>;
}

/** What changed, told to every node (Redis pub/sub; in-process for the embedded backend). */
export type ChangeTopic = 'policy' | 'isolation' | 'revocation' | 'approval' | 'baseline';

export interface ChangeBus {
  publish(topic: ChangeTopic, message: string): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(topic: ChangeTopic, handler: (message: string) => void): () => void;
}

/** Every store of one backend, opened together from the configuration (store/open.ts). */
export interface Stores {
  readonly backend: 'embedded' | 'postgres';
  readonly approvals: ApprovalStore;
  readonly sessions: SessionEventStore;
  readonly usage: UsageStore;
  readonly revocations: RevocationStore;
  readonly isolation: IsolationStore;
  readonly baselines: BaselineStore;
  readonly bus: ChangeBus;
  /** Each part's state for /healthz: "ok", or what is wrong. */
  health(): Promise<Record<string, string>>;
  close(): Promise<void>;
}
