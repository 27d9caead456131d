// Whether what an allowed tool call returns is decided too, before the agent reads it. The MCP
// gateway decides every tool result as `readToolResult` (its texts in context.content, the tool
// as resource) when some policy names that action (pep/mcp/inspect-results.ts). An enforcement
// point in another place (the SDK, in process or over HTTP) learns the same from the allow
// itself: `resultAction` on the decision says which action the result is to be decided as.

import type { ActionRequest, Decision } from '../core/types.js';

export const RESULT_ACTION = 'readToolResult';

/** `d`, marked with the action its result is decided as when policies decide tool results. */
export function withResultAction(
  policies: { namesAction(action: string): boolean },
  request: Pick<ActionRequest, 'action'>,
  d: Decision,
): Decision {
  if (d.decision !== 'allow' || request.action !== 'invokeTool') return d;
  if (!policies.namesAction(RESULT_ACTION)) return d;
  return { ...d, resultAction: RESULT_ACTION };
}
