// cordon/sdk/ai: Cordon for Vercel AI SDK tools (npm `ai`, 5 and later). Each tool's `execute`
// is guarded: the call is decided (invokeTool on Tool::"<server>/<tool name>", the model's input
// as context.input) before it runs. A refusal is thrown from `execute` as a CordonDeniedError,
// which the AI SDK turns into a `tool-error` part: the model reads the error text in the next
// step, the agent loop goes on, and the application sees the error object in `steps`. Nothing
// of the `ai` package is loaded here (types only).

import type { Tool, ToolExecutionOptions, ToolSet } from 'ai';
import type { Decider } from '../guard.js';
import {
  checkOptions,
  guardToolCall,
  isRefusal,
  refusalText,
  type ToolGuardOptions,
} from './tool-call.js';

export { CordonDeniedError, type Decider } from '../guard.js';
export { CAUTIOUS_ATTRIBUTES, type ToolAttributes, type ToolGuardOptions } from './tool-call.js';

export interface AiToolsOptions extends ToolGuardOptions {
  /**
   * Tools left as they are, knowingly: tools without `execute` (the application or the
   * provider runs them, so Cordon cannot stand in front of them here). Any other tool without
   * `execute` is refused when wrapping, so nothing passes unguarded by accident.
   */
  unguarded?: string[];
}

type Execute = (input: unknown, options: ToolExecutionOptions) => unknown;

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/**
 * The tool with its `execute` guarded as tool `name`. A streaming `execute` (an async iterable
 * of preliminary results) is read to its end and only the final result is returned, so that the
 * decision's redactions apply to what the model reads.
 */
export function cordonTool<T extends Tool>(
  decider: Decider,
  name: string,
  tool: T,
  options: ToolGuardOptions,
): T {
  checkOptions(options, 'cordonTool');
  const execute = (tool as { execute?: Execute }).execute;
  if (typeof execute !== 'function')
    throw new TypeError(
      `cordonTool: tool "${name}" has no execute function, so Cordon cannot guard it here (list it in \`unguarded\` to pass it through knowingly)`,
    );
  const run = async (input: unknown, o: ToolExecutionOptions): Promise<unknown> => {
    const out = await execute.call(tool, input, o);
    if (!isAsyncIterable(out)) return out;
    let last: unknown;
    for await (const part of out) last = part;
    return last;
  };
  const guarded = guardToolCall(decider, name, run, options, (input) => input);
  return {
    ...tool,
    execute: async (input: unknown, o: ToolExecutionOptions) => {
      try {
        return await guarded(input, o);
      } catch (e) {
        // The AI SDK sends error.message to the model: make it say that the tool did not run.
        if (isRefusal(e)) e.message = refusalText(e);
        throw e;
      }
    },
  } as T;
}

/** Every tool of the set guarded (the set's keys are the tool names the model calls). */
export function cordonTools<T extends ToolSet>(
  decider: Decider,
  tools: T,
  options: AiToolsOptions,
): T {
  checkOptions(options, 'cordonTools');
  const skip = new Set(options.unguarded ?? []);
  const out: Record<string, Tool> = {};
  for (const [name, t] of Object.entries(tools))
    out[name] = skip.has(name) ? t : cordonTool(decider, name, t as Tool, options);
  return out as T;
}
