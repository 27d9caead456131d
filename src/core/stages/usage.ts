// Model usage as context.usage: requests and tokens over a sliding window, for the acting
// agent and for the user, so budgets are policies
// (`forbid … when { context.usage.agent.tokens >= 100000 }`).

import type { DecisionState, Stage } from '../pipeline.js';
import type { UsageTotals } from '../types.js';

/** Where the usage stage reads totals (the usage store). */
export interface UsageTotalsSource {
  totals(key: string, now: Date): Promise<UsageTotals>;
}

export const usageKey = (kind: 'agent' | 'user', id: string) => `${kind}\u0000${id}`;

export function usageStage(source: UsageTotalsSource): Stage {
  return {
    name: 'usage',
    async run(s: DecisionState) {
      if (s.agent)
        s.facts.usage.agent = await source.totals(usageKey('agent', s.agent.uid.id), s.now);
      if (s.user) s.facts.usage.user = await source.totals(usageKey('user', s.user.uid.id), s.now);
    },
  };
}
