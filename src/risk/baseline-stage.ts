// The baseline stage (before the risk stage) and the learning after-effect. The stage sets
// context.baseline {mode, novel, deviation, rateRatio} from the acting agent's baseline (and
// its AgentClass's while the agent is young); after the decision, an allowed action of an agent
// is learned. Denied and pending ones are not: an agent (or whoever steers it) must not teach
// its baseline what it tried and was refused, and a retry allowed after approval is learned then.

import type { DecisionTrace } from '../core/engine.js';
import type { DecisionState, Stage } from '../core/pipeline.js';
import { resourceLabels } from '../core/stages/session.js';
import type { ActionRequest, Decision } from '../core/types.js';
import type { Observation } from './baseline.js';
import { observe } from './baseline-observe.js';
import type { BaselineService } from './baseline-service.js';

interface Observed {
  agent: string;
  classes: string[];
  obs: Observation;
}

/** What the stage saw of each request, for learning once it is decided (no second walk). */
const observed = new WeakMap<ActionRequest, Observed>();

function labelsOf(s: DecisionState): string[] {
  const { type, id, attrs } = s.request.resource;
  const listed = s.set.store.get(type, id)?.attrs;
  if (listed) return resourceLabels(listed);
  // What the PEP says of an unlisted resource counts only from a PEP trusted for the type.
  return attrs && s.request.trustedFor?.includes(type) ? resourceLabels(attrs) : [];
}

export function baselineStage(service: BaselineService): Stage {
  return {
    name: 'baseline',
    run(s: DecisionState) {
      if (!s.agent) return;
      const agent = s.agent.uid.id;
      const classes = s.agent.parents.filter((p) => p.type === 'AgentClass').map((p) => p.id);
      const obs = observe(s.request, labelsOf(s), { pathDepth: service.pathDepth });
      observed.set(s.request, { agent, classes, obs });
      const facts = service.facts(agent, classes, obs);
      if (facts instanceof Promise)
        return facts.then((f) => {
          s.facts.baseline = f;
        });
      s.facts.baseline = facts;
    },
  };
}

/**
 * Learns what was allowed, and alerts on novelty in monitor and enforce mode. Not listings
 * (`probe`: nothing was done), not events (usage, launch), not people acting in person (no
 * agent), not control-plane calls.
 */
export function baselineLearner(
  service: BaselineService,
  /** Told of each decided action that was novel in monitor or enforce mode (the alert). */
  onNovel?: (trace: DecisionTrace, d: Decision, dimensions: string[]) => void,
) {
  return {
    name: 'baseline',
    decided(trace: DecisionTrace, d: Decision, probe: boolean): void {
      if (probe || trace.kind || trace.request.pep === 'control') return;
      const b = trace.facts.baseline;
      if (onNovel && (b.mode === 'monitor' || b.mode === 'enforce')) {
        const dims = Object.entries(b.novel)
          .filter(([, v]) => v)
          .map(([k]) => k);
        if (dims.length > 0) onNovel(trace, d, dims);
      }
      if (d.decision !== 'allow') return;
      const seen = observed.get(trace.request);
      if (!seen || seen.agent !== trace.agent) return;
      service.learn(seen.agent, seen.classes, seen.obs, trace.time.getTime());
    },
  };
}
