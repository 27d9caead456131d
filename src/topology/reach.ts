// Reachability: which agents can reach which agents, tools and data through any chain of
// permitted delegations and invocations. Every edge is a real decision by the engine, with the
// chain so far (depth, agents, user) pinned as context Cordon would establish with tokens.
// Content findings, risk and approvals are taken as absent: the answer is for a clean session.

import type { Engine } from '../core/engine.js';
import type { EntityRef, Outcome } from '../core/types.js';

export interface ReachOptions {
  /** Start agents (default: every agent). */
  from?: string[];
  /** Stop at the first path to this entity. */
  to?: EntityRef;
  /** Evaluate on behalf of this user too (both must permit). */
  user?: string;
  /** Most agents in a chain (delegation depth). */
  maxDepth: number;
  /** Upper bound on decisions made. */
  maxDecisions: number;
}

export interface Step {
  action: 'delegate' | 'invokeTool' | 'readData';
  to: EntityRef;
  /** require_approval edges are reachable with a human's approval. */
  outcome: Exclude<Outcome, 'deny'>;
}

export interface ReachPath {
  from: string;
  steps: Step[];
  target: EntityRef;
}

export interface ReachResult {
  paths: ReachPath[];
  decisions: number;
  /** True when maxDecisions cut the search short. */
  truncated: boolean;
}

const key = (e: EntityRef) => `${e.type}::${JSON.stringify(e.id)}`;
export const formatEntity = key;

export async function reach(engine: Engine, o: ReachOptions): Promise<ReachResult> {
  const set = engine.policies;
  const entitiesOf = (type: string) => set.store.ofType(type);
  const agents = entitiesOf('Agent').map((a) => a.id);
  const targets: [Step['action'], EntityRef][] = [
    ...entitiesOf('Tool').map((t) => ['invokeTool', t] as [Step['action'], EntityRef]),
    ...entitiesOf('Field').map((t) => ['readData', t] as [Step['action'], EntityRef]),
    ...entitiesOf('Dataset').map((t) => ['readData', t] as [Step['action'], EntityRef]),
  ];
  const starts = o.from ?? agents;
  const found = new Map<string, ReachPath>();
  let decisions = 0;
  let truncated = false;

  const permitted = async (
    chain: string[],
    action: Step['action'],
    resource: EntityRef,
  ): Promise<Step['outcome'] | undefined> => {
    if (decisions >= o.maxDecisions) {
      truncated = true;
      return undefined;
    }
    decisions++;
    const d = await engine.decide(
      {
        agent: chain.at(-1)!,
        ...(o.user ? { user: o.user } : {}),
        action,
        resource,
        pep: 'topology',
      },
      { delegation: { depth: chain.length, chain, user: o.user ?? '' } },
    );
    return d.decision === 'deny' ? undefined : d.decision;
  };

  // Breadth first, so the first path found to a target is a shortest one.
  let frontier: { chain: string[]; steps: Step[] }[] = starts.map((a) => ({
    chain: [a],
    steps: [],
  }));
  while (frontier.length > 0 && !truncated) {
    const next: typeof frontier = [];
    for (const { chain, steps } of frontier) {
      const record = (s: Step) => {
        const k = `${chain[0]}>${key(s.to)}`;
        if (!found.has(k)) found.set(k, { from: chain[0]!, steps: [...steps, s], target: s.to });
      };
      for (const [action, target] of targets) {
        const outcome = await permitted(chain, action, target);
        if (outcome) record({ action, to: target, outcome });
      }
      if (chain.length >= o.maxDepth) continue;
      for (const b of agents) {
        if (chain.includes(b)) continue;
        const to = { type: 'Agent', id: b };
        const outcome = await permitted(chain, 'delegate', to);
        if (!outcome) continue;
        const step: Step = { action: 'delegate', to, outcome };
        record(step);
        next.push({ chain: [...chain, b], steps: [...steps, step] });
      }
      if (o.to && [...found.values()].some((p) => key(p.target) === key(o.to!))) {
        return {
          paths: [...found.values()].filter((p) => key(p.target) === key(o.to!)),
          decisions,
          truncated,
        };
      }
    }
    frontier = next;
  }
  const paths = [...found.values()].filter((p) => !o.to || key(p.target) === key(o.to));
  return { paths, decisions, truncated };
}
