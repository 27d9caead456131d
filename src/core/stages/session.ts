// Session awareness: what this agent has already done in this session reaches Cedar as
// context.session {id, actions, labels, sessionLabels, counts}. History is kept per (agent,
// session id), so a session id guessed or reused by another agent starts empty. Labels come
// from what was read (a resource's `classification` or `labels`); each remembers which
// decision added it, so a denial can say where the taint came from.
//
// Labels also stick to the agent and to the user for a window (`sessions.labelWindowSeconds`),
// whatever the session: a new session id, no session id or a new MCP connection does not wash
// a PII read away, so "read personal data, then send it out" holds across sessions.
// `context.session.labels` is the union; `sessionLabels` is this session's alone, for a policy
// that means this session only.

import type { DecisionState, Stage } from '../pipeline.js';
import type { Outcome } from '../types.js';

export interface SessionEvent {
  decisionId: string;
  /** Epoch milliseconds. */
  time: number;
  action: string;
  /** `Type::"id"` */
  resource: string;
  outcome: Outcome;
  /** Labels the event added to the session (allowed reads of labeled resources). */
  labels: string[];
  destructive: boolean;
  /** A person refused the approval this request asked for (the approval.denied risk signal). */
  approvalDenied?: boolean;
}

/** How an event names its resource: `Type::"id"`. */
export const eventResource = (r: { type: string; id: string }) =>
  `${r.type}::${JSON.stringify(r.id)}`;

/** Denied action+resource pairs a summary remembers for retries; the oldest go beyond this. */
const MAX_DENIED_KEYS = 256;

/**
 * What a session amounts to, kept up to date event by event, so a decision costs the same
 * whether the session is ten actions long or ten thousand.
 */
export class SessionSummary {
  private readonly actions = new Set<string>();
  private readonly origins = new Map<string, LabelOrigin>();
  /** Each label's latest event, for views that only count labels added since a time. */
  private readonly latest = new Map<string, LabelOrigin & { time: number }>();
  /** Events still inside the counting window, oldest first, from `head` on. */
  private recent: Pick<SessionEvent, 'time' | 'outcome' | 'destructive' | 'approvalDenied'>[] = [];
  /** action + resource → when it was last denied, for the retry signal. */
  private readonly deniedAt = new Map<string, number>();
  private approvalsDenied = 0;
  private head = 0;
  /** Counts over recent[head…], kept as events enter and leave the window. */
  private total = 0;
  private destructive = 0;
  private denied = 0;

  constructor(private readonly windowMs: number) {}

  add(e: SessionEvent): void {
    if (e.outcome === 'allow') this.actions.add(e.action);
    for (const label of e.labels) {
      const origin = { label, decisionId: e.decisionId, action: e.action, resource: e.resource };
      if ((this.latest.get(label)?.time ?? -Infinity) <= e.time)
        this.latest.set(label, { ...origin, time: e.time });
      if (!this.origins.has(label))
        this.origins.set(label, {
          label,
          decisionId: e.decisionId,
          action: e.action,
          resource: e.resource,
        });
    }
    this.recent.push({
      time: e.time,
      outcome: e.outcome,
      destructive: e.destructive,
      ...(e.approvalDenied ? { approvalDenied: true } : {}),
    });
    if (e.outcome === 'deny') {
      const key = `${e.action}\u0000${e.resource}`;
      this.deniedAt.delete(key); // re-inserted: the map's order is oldest denial first
      this.deniedAt.set(key, e.time);
      if (this.deniedAt.size > MAX_DENIED_KEYS)
        this.deniedAt.delete(this.deniedAt.keys().next().value!);
    }
    this.count(e, 1);
    this.prune(e.time);
  }

  private count(
    e: Pick<SessionEvent, 'outcome' | 'destructive' | 'approvalDenied'>,
    by: 1 | -1,
  ): void {
    this.total += by;
    if (e.approvalDenied) this.approvalsDenied += by;
    if (e.outcome === 'deny') this.denied += by;
    if (e.destructive && e.outcome === 'allow') this.destructive += by;
  }

  /** Drops what has left the window: amortized O(1) per event, however busy the session. */
  private prune(now: number): void {
    const since = now - this.windowMs;
    while (this.head < this.recent.length && this.recent[this.head]!.time < since) {
      this.count(this.recent[this.head]!, -1);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.head);
      this.head = 0;
    }
  }

  view(now: number): {
    actions: string[];
    labels: string[];
    origins: LabelOrigin[];
    counts: Record<string, number>;
  } {
    this.prune(now);
    return {
      actions: [...this.actions],
      labels: [...this.origins.keys()],
      origins: [...this.origins.values()],
      counts: { total: this.total, destructive: this.destructive, denied: this.denied },
    };
  }

  /**
   * What the risk signals read: whether this action on this resource was denied within the
   * window (a retry), and how many approvals people refused within it.
   */
  history(
    now: number,
    action: string,
    resource: string,
  ): { retried: boolean; approvalsDenied: number } {
    this.prune(now);
    const at = this.deniedAt.get(`${action}\u0000${resource}`);
    return {
      retried: at !== undefined && at >= now - this.windowMs,
      approvalsDenied: this.approvalsDenied,
    };
  }

  /** The labels added at or after `since` (epoch ms), each with its latest origin. */
  labelsSince(since: number): LabelOrigin[] {
    const out: LabelOrigin[] = [];
    for (const { time, ...origin } of this.latest.values()) if (time >= since) out.push(origin);
    return out;
  }
}

/** Where session history is kept; the stage reads summaries, the decision service appends. */
export interface SessionStore {
  summary(key: string): Promise<SessionSummary>;
  append(key: string, event: SessionEvent): Promise<void>;
}

export interface LabelOrigin {
  label: string;
  decisionId: string;
  action: string;
  resource: string;
}

export const sessionKey = (agent: string, session: string) => `${agent}\u0000${session}`;

/** Where the labels an agent or a user picked up, in any session, are kept. */
export const historyKey = (who: 'agent' | 'user', id: string) => `\u0001${who}\u0000${id}`;

export interface SessionStageOptions {
  /** How long a label sticks to the agent and the user across sessions (ms); 0: it does not. */
  labelWindowMs?: number;
}

export function sessionStage(store: SessionStore, opts: SessionStageOptions = {}): Stage {
  const window = opts.labelWindowMs ?? 0;
  return {
    name: 'session',
    async run(s: DecisionState) {
      const id = s.request.session;
      const agent = s.agent?.uid.id;
      if (!agent) return;
      const now = s.now.getTime();
      const origins = new Map<string, LabelOrigin>();
      if (id) {
        const summary = await store.summary(sessionKey(agent, id));
        const v = summary.view(now);
        s.history = summary.history(now, s.request.action, eventResource(s.request.resource));
        s.facts.session = {
          id,
          actions: v.actions,
          labels: v.labels,
          sessionLabels: v.labels,
          counts: v.counts,
        };
        for (const o of v.origins) origins.set(o.label, o);
      }
      if (window > 0) {
        const keys = [historyKey('agent', agent)];
        const user = s.user?.uid.id;
        if (user) keys.push(historyKey('user', user));
        for (const key of keys)
          for (const o of (await store.summary(key)).labelsSince(now - window))
            if (!origins.has(o.label)) origins.set(o.label, o);
        s.facts.session.labels = [...origins.keys()];
      }
      if (origins.size > 0) s.labelOrigins = [...origins.values()];
    },
  };
}

/** The labels a resource carries: its `classification`, and its `labels` set. */
export function resourceLabels(attrs: Record<string, unknown>): string[] {
  const out = new Set<string>();
  if (typeof attrs.classification === 'string' && attrs.classification)
    out.add(attrs.classification);
  if (Array.isArray(attrs.labels))
    for (const l of attrs.labels) if (typeof l === 'string' && l) out.add(l);
  return [...out];
}
