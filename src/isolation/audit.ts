// Every isolation change is a record in the audit log (kind "isolation"): applied, released or
// expired, with the measures, the reason and who did it. An isolation a decision triggered names
// that decision as its parent, so the log holds the chain from the action to the isolation.

import type { DecisionTrace } from '../core/engine.js';
import { initialFacts } from '../core/pipeline.js';
import type { PolicyProvider } from '../core/engine.js';
import { v7 as uuidv7 } from 'uuid';
import type { IsolationChange, IsolationRecorder } from './service.js';

export interface AuditAppender {
  append(trace: DecisionTrace): Promise<unknown>;
}

/** The audit event of one change (an event record: replay skips it). */
export function isolationTrace(c: IsolationChange, policies: PolicyProvider): DecisionTrace {
  const s = c.state;
  const set = policies.current();
  const time = new Date();
  const released = c.kind !== 'applied';
  return {
    kind: 'isolation',
    time,
    set,
    agent: s.agent,
    ...(s.user !== undefined ? { user: s.user } : {}),
    labels: [],
    destructive: false,
    facts: initialFacts(s.session),
    request: {
      agent: s.agent,
      ...(s.user !== undefined ? { user: s.user } : {}),
      ...(s.session !== undefined ? { session: s.session } : {}),
      action: 'isolate',
      resource: { type: 'Agent', id: s.agent },
      pep: 'isolation',
      ...(s.decisionId && !released ? { parent: s.decisionId } : {}),
      context: {
        isolation: {
          change: c.kind,
          measures: s.measures,
          reason: s.reason,
          by: s.by,
          at: s.at,
          ...(s.until ? { until: s.until } : {}),
          ...(c.by !== undefined ? { releasedBy: c.by } : {}),
          ...(c.reason !== undefined ? { releaseReason: c.reason } : {}),
        },
      },
    },
    decision: {
      decision: 'allow',
      reasons: [
        {
          policy: 'cordon/isolation',
          effect: 'permit',
          annotations: { change: c.kind },
          message:
            c.kind === 'applied'
              ? `agent "${s.agent}" isolated by ${s.by}: ${s.reason}`
              : c.kind === 'expired'
                ? `isolation of agent "${s.agent}" expired (${s.until})`
                : `isolation of agent "${s.agent}" released by ${c.by ?? 'unknown'}${c.reason ? `: ${c.reason}` : ''}`,
        },
      ],
      obligations: released
        ? [{ type: 'release', by: c.by ?? c.kind }]
        : [{ type: s.measures.full ? 'isolate' : 'restrict', ...s.measures }],
      risk: { score: 0, level: 'low' },
      policyVersion: set.version,
      decisionId: uuidv7(),
    },
  };
}

/** A recorder that appends each change to the audit log, durably, before the change is applied. */
export function auditRecorder(audit: AuditAppender, policies: PolicyProvider): IsolationRecorder {
  return async (c) => {
    await audit.append(isolationTrace(c, policies));
  };
}
