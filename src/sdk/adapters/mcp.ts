// cordon/sdk/mcp: Cordon inside an MCP server written with the MCP TypeScript SDK, without the
// gateway. `cordonMcpServer(server, decider, options)` stands in front of the server's
// tools/call handler, whichever registers it (McpServer.registerTool / tool, or a low-level
// Server's own setRequestHandler): every call is decided as the gateway decides it (invokeTool
// on Tool::"<server>/<tool>", the arguments as context.input) before the tool runs. A refusal
// is a tool result with `isError: true` and the reason as text, as the MCP specification says
// tool errors are reported (so the model reads it), with Cordon's decision under
// `_meta["cordon/decision"]` as the gateway puts it. An allowed call's result has the
// decision's redactions applied before it leaves the server.
//
// It must be applied before the first tool is registered (McpServer installs its tools/call
// handler then): applied later, it refuses to start rather than leave the handler unguarded.

import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { getLiteralValue, getObjectShape } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Decider } from '../guard.js';
import { CordonDeniedError, sdkReason } from '../guard.js';
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Extra = RequestHandlerExtra<any, any>;

/** Who makes a call, per request; any field left out comes from the options. */
export interface CallIdentity {
  agent?: string;
  user?: string;
  token?: string;
  session?: string;
}

export interface McpServerGuardOptions extends ToolGuardOptions {
  /**
   * Who calls, from the request: `extra.authInfo` (the bearer token your transport verified),
   * `extra.sessionId`, `extra.requestInfo`. Default: the options' agent, user and token, and
   * the transport's session id as the session. A throw refuses the call.
   */
  identity?: (extra: Extra) => CallIdentity | Promise<CallIdentity>;
}

/** The key the decision travels under in a refused result's `_meta` (as the gateway's). */
export const DECISION_META = 'cordon/decision';

const GUARDED = Symbol.for('cordon.sdk.mcp.guarded');

type Handler = (request: unknown, extra: Extra) => unknown;
type SetRequestHandler = (schema: unknown, handler: Handler) => void;
interface LowLevel {
  setRequestHandler: SetRequestHandler;
  assertCanSetRequestHandler(method: string): void;
  [GUARDED]?: true;
}

function methodOf(schema: unknown): unknown {
  const shape = getObjectShape(schema as Parameters<typeof getObjectShape>[0]);
  const method = shape?.method;
  return method ? getLiteralValue(method) : undefined;
}

function refused(e: CordonDeniedError): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: refusalText(e) }],
    _meta: { [DECISION_META]: refusalMeta(e) },
  };
}

/** The tools/call handler, guarded. */
function guardedHandler(handler: Handler, decider: Decider, o: McpServerGuardOptions): Handler {
  return async (request, extra) => {
    const params = (request as { params: { name: string; arguments?: unknown; task?: unknown } })
      .params;
    const { name } = params;
    const args = params.arguments ?? {};
    try {
      let who: CallIdentity;
      try {
        who = {
          ...(extra.sessionId !== undefined ? { session: extra.sessionId } : {}),
          ...(o.identity ? await o.identity(extra) : {}),
        };
      } catch (e) {
        const message = (e as Error)?.message ?? String(e);
        throw new CordonDeniedError(
          'CORDON_UNAVAILABLE',
          `Cordon could not tell who calls ${name}: ${message}`,
          { reasons: [sdkReason('unknown-caller', message)], cause: e },
        );
      }
      // A token names the agent and the user itself: names from the options are not mixed in.
      const base = who.token ? { ...o, agent: undefined, user: undefined } : o;
      const run = guardToolCall(
        decider,
        name,
        () => handler(request, extra),
        { ...base, ...who },
        () => args,
      );
      return await run();
    } catch (e) {
      if (!isRefusal(e)) throw e;
      // A task-augmented call expects a task, not a result: the refusal is the request's error.
      if (params.task !== undefined) throw new McpError(ErrorCode.InvalidRequest, refusalText(e));
      return refused(e);
    }
  };
}

/**
 * Guards every tool call of `server` (an McpServer or a low-level Server). Apply it before
 * registering tools; it throws when a tools/call handler is already there, or when applied
 * twice.
 */
export function cordonMcpServer(
  server: McpServer | Server,
  decider: Decider,
  options: McpServerGuardOptions,
): void {
  checkOptions(options, 'cordonMcpServer');
  const inner = (server as McpServer).server;
  const low = (inner && typeof inner.setRequestHandler === 'function'
    ? inner
    : server) as unknown as LowLevel;
  if (low[GUARDED]) throw new Error('cordonMcpServer: this server is already guarded');
  try {
    low.assertCanSetRequestHandler('tools/call');
  } catch {
    throw new Error(
      'cordonMcpServer: the server already handles tools/call (a tool was registered first); apply Cordon before registering tools',
    );
  }
  const original = low.setRequestHandler;
  low.setRequestHandler = function (this: unknown, schema, handler) {
    const h =
      methodOf(schema) === 'tools/call' ? guardedHandler(handler, decider, options) : handler;
    return original.call(this, schema, h);
  };
  low[GUARDED] = true;
}
