// cordon/sdk/openai-agents: Cordon for function tools of the OpenAI Agents SDK for JavaScript
// (@openai/agents). A wrapped FunctionTool decides each call before the tool's own `invoke`
// runs: on the arguments the model sent (parsed from their JSON; the raw text when they do not
// parse, so a malformed call is decided too). A refusal becomes the tool's output, the text the
// model reads, and the current function span is marked with the error, as the SDK does for a
// tool that failed; the run goes on. It is never thrown: the runner would end the whole run on
// an exception from `invoke`. The tool's timeout, approval (`needsApproval`), guardrails and
// error function still apply: everything but `invoke` is the tool's own.

import { getCurrentSpan, type FunctionTool, type Tool } from '@openai/agents';
import type { Decider } from '../guard.js';
import {
  checkOptions,
  guardToolCall,
  isRefusal,
  refusalMeta,
  refusalText,
  type ToolGuardOptions,
} from './tool-call.js';

export { CordonDeniedError, type Decider } from '../guard.js';
export { CAUTIOUS_ATTRIBUTES, type ToolAttributes, type ToolGuardOptions } from './tool-call.js';

export interface AgentToolsOptions extends ToolGuardOptions {
  /**
   * Tools left as they are, knowingly: hosted tools (OpenAI runs them) and computer, shell or
   * apply-patch tools, which are not function tools. Any other such tool is refused when
   * wrapping, so nothing passes unguarded by accident.
   */
  unguarded?: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFunctionTool = FunctionTool<any, any, any>;
type Invoke = AnyFunctionTool['invoke'];

/** The model's arguments as Cedar sees them: parsed JSON, or the raw text when it is not. */
function argumentsOf(input: string): unknown {
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

/** The function tool with its `invoke` guarded (name and everything else are the tool's own). */
export function cordonTool<T extends AnyFunctionTool>(
  decider: Decider,
  tool: T,
  options: ToolGuardOptions,
): T {
  checkOptions(options, 'cordonTool');
  if (tool?.type !== 'function' || typeof tool.invoke !== 'function')
    throw new TypeError(
      `cordonTool: expected a function tool (as tool() makes), got ${tool?.type ?? typeof tool}`,
    );
  const invoke: Invoke = tool.invoke;
  const name = tool.name;
  const guarded = guardToolCall<Parameters<Invoke>, Awaited<ReturnType<Invoke>>>(
    decider,
    name,
    (...args: Parameters<Invoke>) => invoke.apply(tool, args),
    options,
    (_ctx, input) => argumentsOf(input),
  );
  const cordonInvoke: Invoke = async (runContext, input, details) => {
    try {
      return await guarded(runContext, input, details);
    } catch (e) {
      if (!isRefusal(e)) throw e;
      getCurrentSpan()?.setError({
        message: 'Cordon refused the tool call',
        data: { tool_name: name, cordon: refusalMeta(e) },
      });
      return refusalText(e);
    }
  };
  // A shallow copy keeps the SDK's own symbol-keyed fields (output validation) with it.
  return { ...tool, invoke: cordonInvoke };
}

/** Every function tool guarded; other tools only when listed in `unguarded`. */
export function cordonTools<T extends Tool>(
  decider: Decider,
  tools: T[],
  options: AgentToolsOptions,
): T[] {
  checkOptions(options, 'cordonTools');
  const skip = new Set(options.unguarded ?? []);
  return tools.map((t) => {
    const name = (t as { name?: string }).name ?? '';
    if (skip.has(name)) return t;
    if (t.type !== 'function')
      throw new TypeError(
        `cordonTools: tool "${name}" is not a function tool (type "${t.type}"), so Cordon cannot guard it here (list it in \`unguarded\` to pass it through knowingly)`,
      );
    return cordonTool(decider, t as AnyFunctionTool, options) as T;
  });
}
