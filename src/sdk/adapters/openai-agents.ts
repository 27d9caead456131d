// cordon/sdk/openai-agents: Cordon for function tools of the OpenAI Agents SDK for JavaScript
// (@openai/agents). A wrapped FunctionTool decides each call before the tool's own `invoke`
// runs: on the arguments the model sent (parsed from their JSON; the raw text when they do not
// parse, so a malformed call is decided too). A refusal becomes the tool's output, the text the
// model reads, and the current function span is marked with the error, as the SDK does for a
// tool that failed; the run goes on. It is never thrown: the runner would end the whole run on
// an exception from `invoke`. The tool's timeout, approval (`needsApproval`), guardrails and
// error function still apply: everything but `invoke` is the tool's own.
//
// A tool made by the SDK's tool() catches what its function throws inside `invoke` (its error
// function turns it into text), so a wrapper around `invoke` cannot tell a failed call from a
// good one. guardedTool() builds the tool itself with its function guarded, so that a call that
// throws after it was allowed is recorded as such (sdk/guard.ts) and then reported to the model
// by the tool's own error function, as without Cordon.

import {
  getCurrentSpan,
  tool as sdkTool,
  type FunctionTool,
  type Tool,
  type ToolInputParameters,
  type ToolOptions,
  type UnknownContext,
} from '@openai/agents';
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

/** What the SDK's tool() answers the model for a failed call when no error function is given. */
const sdkDefaultError = (error: unknown) =>
  `An error occurred while running the tool. Please try again. Error: ${
    error instanceof Error ? error.toString() : String(error)
  }`;

/**
 * The SDK's tool() with `execute` guarded: options exactly as tool() takes them. A refusal is
 * the text the model reads; what `execute` throws after an allowed decision is recorded and
 * then handled as tool() handles it (the error function given, else the SDK's default text).
 * A tool with an output schema, or whose errors are raised (`errorFunction: null`), lets errors
 * out of `invoke`; it is wrapped as cordonTool() wraps a built tool, which then sees them.
 */
export function guardedTool<
  TParameters extends ToolInputParameters = undefined,
  Context = UnknownContext,
  Result = string,
>(
  decider: Decider,
  options: ToolOptions<TParameters, Context>,
  guardOptions: ToolGuardOptions,
): FunctionTool<Context, TParameters, Result> {
  checkOptions(guardOptions, 'guardedTool');
  const build = sdkTool as unknown as (o: unknown) => FunctionTool<Context, TParameters, Result>;
  const own = options.errorFunction;
  if (own === null || (options as { outputSchema?: unknown }).outputSchema !== undefined)
    return cordonTool(decider, build(options), guardOptions);
  type Execute = (input: unknown, context: unknown, details: unknown) => unknown;
  // Set once tool() has settled the name (below); called only after that.
  const guarded: { execute?: Execute } = {};
  const built = build({
    ...options,
    execute: (input: unknown, context: unknown, details: unknown) =>
      guarded.execute!(input, context, details),
    errorFunction: (
      context: Parameters<NonNullable<typeof own>>[0],
      error: unknown,
      details?: Parameters<NonNullable<typeof own>>[2],
    ) => {
      if (isRefusal(error)) {
        getCurrentSpan()?.setError({
          message: 'Cordon refused the tool call',
          data: { tool_name: built.name, cordon: refusalMeta(error) },
        });
        return refusalText(error);
      }
      return own ? own(context, error, details) : sdkDefaultError(error);
    },
  });
  // The name as tool() settled it (it normalizes names), which is the name the model calls.
  guarded.execute = guardToolCall<Parameters<Execute>, unknown>(
    decider,
    built.name,
    options.execute as Execute,
    guardOptions,
    (input) => input,
  );
  return built;
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
