// The `restrict` and `isolate` responses, as after-effects of a decision: a determining forbid
// annotated @outcome("restrict"|"isolate"), or the risk tier table, leaves an obligation on the
// decision, and it becomes an isolation state (measures from cordon.yaml `isolation:`) covering
// the agent, by `policy:<id>` or `risk:<level>`, naming the decision. It is applied before the
// decision is answered, so the agent's very next action meets it.

import type { DecisionTrace } from '../core/engine.js';
import type { Decision, Obligation } from '../core/types.js';
import type { IsolationMeasures } from '../store/ports.js';
import type { IsolationConfig } from './config.js';
import type { IsolationRequest, IsolationService } from './service.js';

export type IsolationResponder = (trace: DecisionTrace, d: Decision) => Promise<void>;

/** The isolation requests a decision's obligations call for (none for most decisions). */
export function responsesFor(
  trace: DecisionTrace,
  d: Decision,
  config: IsolationConfig,
): IsolationRequest[] {
  const agent = trace.agent;
  if (!agent) return [];
  const { request } = trace;
  const scope: Pick<IsolationRequest, 'user' | 'session'> =
    config.scope === 'user' && trace.user !== undefined
      ? { user: trace.user }
      : config.scope === 'session' && request.session !== undefined
        ? { session: request.session }
        : {};
  const until =
    config.durationSeconds !== undefined
      ? new Date(trace.time.getTime() + config.durationSeconds * 1000)
      : undefined;
  const what = `${request.action} ${request.resource.type}::"${request.resource.id}"`;
  const out: IsolationRequest[] = [];
  for (const o of d.obligations) {
    if (o.type !== 'restrict' && o.type !== 'isolate') continue;
    const measures: IsolationMeasures = config[o.type];
    out.push({
      agent,
      ...scope,
      measures,
      by: triggeredBy(o),
      reason: describe(o, what),
      decisionId: d.decisionId,
      ...(until ? { until } : {}),
    });
  }
  return out;
}

function triggeredBy(o: Obligation): string {
  if (typeof o.policy === 'string') return `policy:${o.policy}`;
  if (o.reason === 'risk') return `risk:${String(o.level)}`;
  return 'cordon';
}

function describe(o: Obligation, what: string): string {
  if (typeof o.policy === 'string')
    return `policy ${o.policy} (@outcome("${o.type}")) refused ${what}`;
  if (o.reason === 'risk')
    return `risk ${String(o.score)} (${String(o.level)}) on ${what}: the risk tier's response is ${o.type}`;
  return `${o.type} on ${what}`;
}

/** The after-effect the decision service runs on every (non-listing) decision. */
export function isolationResponder(
  service: IsolationService,
  config: IsolationConfig,
): IsolationResponder {
  return async (trace, d) => {
    if (d.decision !== 'deny') return; // restrict and isolate come with a deny
    for (const r of responsesFor(trace, d, config)) await service.restrict(r);
  };
}
