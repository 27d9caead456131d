// Session awareness: what this agent has already done in this session reaches Cedar as
// context.session {id, actions, labels, counts}. History is kept per (agent, session id), so a
// session id guessed or reused by another agent starts empty. Labels come from what the session
// has read (a resource's `classification` or `labels`); each remembers which decision added it,
// so a denial can say where the taint came from.

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
}

/** Where session history is kept; the stage only reads, the decision service appends. */
export interface SessionStore {
  load(key: string): Promise<SessionEvent[]>;
  append(key: string, event: SessionEvent): Promise<void>;
}

export interface LabelOrigin {
  label: string;
  decisionId: string;
  action: string;
  resource: string;
}

export const sessionKey = (agent: string, session: string) => `${agent}\u0000${session}`;

/** `window`: how far back counts look (ms). */
export function sessionStage(store: SessionStore, windowMs: number): Stage {
  return {
    name: 'session',
    async run(s: DecisionState) {
      const id = s.request.session;
      const agent = s.agent?.uid.id;
      if (!id || !agent) return;
      const events = await store.load(sessionKey(agent, id));
      const since = s.now.getTime() - windowMs;
      const actions = new Set<string>();
      const origins = new Map<string, LabelOrigin>();
      let total = 0;
      let destructive = 0;
      let denied = 0;
      for (const e of events) {
        if (e.outcome === 'allow') actions.add(e.action);
        for (const label of e.labels) {
          if (!origins.has(label))
            origins.set(label, {
              label,
              decisionId: e.decisionId,
              action: e.action,
              resource: e.resource,
            });
        }
        if (e.time < since) continue;
        total++;
        if (e.outcome === 'deny') denied++;
        if (e.destructive && e.outcome === 'allow') destructive++;
      }
      s.facts.session = {
        id,
        actions: [...actions],
        labels: [...origins.keys()],
        counts: { total, destructive, denied },
      };
      s.labelOrigins = [...origins.values()];
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
