// What in a model's answer is a proposed action. Each wire format has an exact set of shapes
// known to be no action (text, reasoning, refusals, results of tools that already ran); every
// other output item, content block or tool call is an action: decided as invokeTool when its
// shape is known, refused when it is not. A shape a provider adds tomorrow is withheld from
// the agent until Cordon knows how to decide it: it fails closed.

import type { Decision } from '../../core/types.js';
import { parseArgs, refusalText, type ToolJudge } from './dialect.js';

/** One proposed action: the tool it is decided on and what it would be called with. */
export interface Proposed {
  /** A function name, `<server>__<tool>` for MCP tools, or a built-in tool's name. */
  tool: string;
  args: unknown;
}

/** An action's shape is unknown: it cannot be decided. */
export const UNRECOGNIZED = Symbol('unrecognized');

/** Responses output items that propose nothing (results of tools already run included). */
const RESPONSES_NON_ACTIONS = new Set([
  'message',
  'reasoning',
  'compaction',
  'additional_tools',
  'mcp_list_tools',
  'mcp_approval_response',
  'function_call_output',
  'custom_tool_call_output',
  'computer_call_output',
  'local_shell_call_output',
  'shell_call_output',
  'apply_patch_call_output',
  'tool_search_output',
  'program_output',
]);

/** Built-in Responses tools, decided as Tool::"<name>": `computer_call` is Tool::"computer". */
const RESPONSES_BUILTINS = new Set([
  'computer_call',
  'local_shell_call',
  'shell_call',
  'apply_patch_call',
  'web_search_call',
  'file_search_call',
  'code_interpreter_call',
  'image_generation_call',
  'tool_search_call',
  'program',
]);

/** An item's bookkeeping and the results of a tool already run: not what it asks to do. */
const NOT_ARGS = new Set([
  'id',
  'type',
  'status',
  'call_id',
  'created_by',
  'caller',
  'result',
  'results',
  'output',
  'outputs',
  'error',
]);

const argsOf = (item: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !NOT_ARGS.has(k)));

const str = (v: unknown) => (typeof v === 'string' ? v : '');

type Item = Record<string, unknown>;

/** A Responses output item: undefined when it proposes nothing. */
export function responsesAction(item: Item): Proposed | typeof UNRECOGNIZED | undefined {
  const type = str(item.type);
  if (RESPONSES_NON_ACTIONS.has(type)) return undefined;
  switch (type) {
    case 'function_call':
      return { tool: str(item.name), args: parseArgs(str(item.arguments)) };
    case 'custom_tool_call':
      return { tool: str(item.name), args: item.input ?? '' };
    case 'mcp_call':
    case 'mcp_approval_request':
      return {
        tool: `${str(item.server_label)}__${str(item.name)}`,
        args: parseArgs(str(item.arguments)),
      };
  }
  if (RESPONSES_BUILTINS.has(type)) return { tool: type.replace(/_call$/, ''), args: argsOf(item) };
  return UNRECOGNIZED;
}

/** Messages content blocks that propose nothing (results of server tools included). */
const ANTHROPIC_NON_ACTIONS = new Set([
  'text',
  'thinking',
  'redacted_thinking',
  'compaction',
  'fallback',
  'container_upload',
  'mcp_tool_listing',
  'mcp_tool_result',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'advisor_tool_result',
]);

/** A Messages content block: undefined when it proposes nothing. */
export function anthropicAction(block: Item): Proposed | typeof UNRECOGNIZED | undefined {
  const type = str(block.type);
  if (ANTHROPIC_NON_ACTIONS.has(type)) return undefined;
  switch (type) {
    case 'tool_use':
    case 'server_tool_use':
      return { tool: str(block.name), args: block.input ?? {} };
    case 'mcp_tool_use':
      return { tool: `${str(block.server_name)}__${str(block.name)}`, args: block.input ?? {} };
  }
  return UNRECOGNIZED;
}

/** A Chat Completions tool call (`function` or `custom`). */
export function chatToolCall(call: Item): Proposed | typeof UNRECOGNIZED {
  const type = call.type ?? (call.function ? 'function' : undefined);
  const f = call.function as Item | undefined;
  const c = call.custom as Item | undefined;
  if (type === 'function' && f) return { tool: str(f.name), args: parseArgs(str(f.arguments)) };
  if (type === 'custom' && c) return { tool: str(c.name), args: c.input ?? '' };
  return UNRECOGNIZED;
}

/** Chat Completions message (and delta) keys that are no action. */
export const CHAT_MESSAGE_KEYS = new Set([
  'role',
  'content',
  'refusal',
  'annotations',
  'audio',
  'reasoning',
  'reasoning_content',
  'reasoning_details',
  'tool_calls',
  'function_call',
  'name',
]);

const unrecognizedText = (what: string) =>
  `Cordon withheld ${what} the model proposed: Cordon does not recognize it, so it cannot be decided`;

/**
 * Decides one proposed action: undefined when it may go to the agent, else the text the agent
 * reads instead. An unrecognized shape, or one that cannot be decided (arguments no record
 * can hold), is refused.
 */
export async function verdict(
  judge: ToolJudge,
  p: Proposed | typeof UNRECOGNIZED,
  what: string,
): Promise<string | undefined> {
  if (p === UNRECOGNIZED) return unrecognizedText(what);
  let d: Decision;
  try {
    d = await judge(p.tool, p.args);
  } catch (e) {
    return `Cordon refused the tool call ${p.tool}: it cannot be decided (${(e as Error).message})`;
  }
  return d.decision === 'allow' ? undefined : refusalText(p.tool, d);
}

export { unrecognizedText };
