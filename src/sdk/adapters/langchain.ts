// cordon/sdk/langchain: Cordon for LangChain.js tools (@langchain/core 1.x): anything built with
// `tool()`, DynamicStructuredTool, DynamicTool or a StructuredTool subclass. The wrapped tool is
// the same tool (name, description, schema, callbacks, instanceof) whose run is decided first,
// on the arguments after the tool's own schema parsed them. Invoked with a tool call (what
// `model.bindTools` produces and every agent loop passes), a refusal comes back as a ToolMessage
// with `status: "error"` and the reason as its content: the model reads it, the loop goes on.
// Invoked with bare arguments there is no message to put it in, so the CordonDeniedError is
// thrown.

import { ToolMessage } from '@langchain/core/messages';
import type { StructuredToolInterface } from '@langchain/core/tools';
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

/** What StructuredTool.call() hands `_call`: parsed arguments, run manager, config. */
type RunFn = (arg: unknown, runManager?: unknown, config?: unknown) => unknown;

/** The tool call being answered, as StructuredTool.invoke() puts it in the config. */
function toolCallOf(config: unknown): { id: string } | undefined {
  const call = (config as { toolCall?: { id?: unknown } } | undefined)?.toolCall;
  return call && typeof call.id === 'string' ? { id: call.id } : undefined;
}

/** The tool, guarded: a new object whose prototype is the tool, with its own `_call`. */
export function cordonTool<T extends StructuredToolInterface>(
  decider: Decider,
  tool: T,
  options: ToolGuardOptions,
): T {
  checkOptions(options, 'cordonTool');
  const run = (tool as unknown as { _call?: RunFn })._call;
  if (typeof run !== 'function' || typeof tool.name !== 'string')
    throw new TypeError(
      'cordonTool: expected a LangChain tool (a StructuredTool with a name and _call), as tool() makes',
    );
  const name = tool.name;
  const wrapped = Object.create(tool) as T;
  const guarded = guardToolCall<Parameters<RunFn>, unknown>(
    decider,
    name,
    (arg: unknown, runManager?: unknown, config?: unknown) =>
      run.call(wrapped, arg, runManager, config),
    options,
    (arg) => arg,
  );
  const _call = async (arg: unknown, runManager?: unknown, config?: unknown) => {
    try {
      return await guarded(arg, runManager, config);
    } catch (e) {
      const call = toolCallOf(config);
      if (!isRefusal(e) || !call) throw e;
      const message = new ToolMessage({
        status: 'error',
        content: refusalText(e),
        tool_call_id: call.id,
        name,
        metadata: { cordon: refusalMeta(e) },
      });
      // A content-and-artifact tool must return a pair; the message stands for the content.
      return (tool as { responseFormat?: string }).responseFormat === 'content_and_artifact'
        ? [message, undefined]
        : message;
    }
  };
  Object.defineProperty(wrapped, '_call', { value: _call, writable: true, configurable: true });
  return wrapped;
}

/** Every tool guarded. */
export function cordonTools<T extends StructuredToolInterface>(
  decider: Decider,
  tools: T[],
  options: ToolGuardOptions,
): T[] {
  checkOptions(options, 'cordonTools');
  return tools.map((t) => cordonTool(decider, t, options));
}
