// What every framework adapter shares: a framework's tool call as the request the MCP gateway
// makes for an MCP tool (action invokeTool on Tool::"<server>/<tool>", the server as the tool's
// parent, the arguments as context.input), decided through guard(), and the text a model reads
// when Cordon refuses the call. Each adapter (ai.ts, langchain.ts, openai-agents.ts, mcp.ts)
// only translates its framework's tool shape and turns a refusal into that framework's tool
// error; none imports another framework.

import type { ResourceRef } from '../../core/types.js';
import { CordonDeniedError, guard, type Decider, type GuardOptions } from '../guard.js';

/** A tool's attributes as policies see them (`resource.readOnly` …), for tools entities.json does not list. */
export interface ToolAttributes {
  readOnly?: boolean;
  destructive?: boolean;
  irreversible?: boolean;
  idempotent?: boolean;
  openWorld?: boolean;
  [key: string]: unknown;
}

/**
 * What an unlisted tool is taken to be unless told otherwise: not read-only, destructive,
 * irreversible (as the MCP gateway treats a tool it knows nothing about). A policy that permits
 * read-only tools does not permit a tool because nobody described it.
 */
export const CAUTIOUS_ATTRIBUTES: Readonly<ToolAttributes> = Object.freeze({
  readOnly: false,
  destructive: true,
  irreversible: true,
  idempotent: false,
  openWorld: true,
});

/** How an adapter names and decides the tools it guards. */
export interface ToolGuardOptions {
  /**
   * The server the tools belong to: each tool is `Tool::"<server>/<tool name>"` with
   * `McpServer::"<server>"` as its parent, exactly as the MCP gateway names the tools of an MCP
   * server, so one policy covers a tool whichever way the agent reaches it.
   */
  server: string;
  /** Who calls (when absent, the decider's defaults); a delegation token names both itself. */
  agent?: string;
  user?: string;
  token?: string;
  /** The session the calls belong to (session facts, flow rules). */
  session?: string;
  /** require_approval: wait for a person's answer (up to timeoutMs) or refuse at once (default). */
  approval?: { wait: boolean; timeoutMs?: number };
  /**
   * Attributes per tool name, for tools entities.json does not list (a listed tool's own
   * attributes win). A tool named in neither place gets CAUTIOUS_ATTRIBUTES.
   */
  attributes?: Record<string, ToolAttributes>;
  /** Extra context keys for Cedar (never the keys only Cordon sets). */
  context?: Record<string, unknown>;
  /** Replaces the naming above when the tools are some other resource. */
  resource?: (tool: string, input: unknown) => ResourceRef;
}

/** The Tool resource for `name` on `server`, as the MCP gateway builds it for MCP tools. */
export function toolResource(server: string, name: string, attrs?: ToolAttributes): ResourceRef {
  return {
    type: 'Tool',
    id: `${server}/${name}`,
    attrs: { ...CAUTIOUS_ATTRIBUTES, ...attrs },
    parents: [{ type: 'McpServer', id: server }],
  };
}

/** Refuses options that would name every tool wrongly; said when the tools are wrapped. */
export function checkOptions(o: ToolGuardOptions, adapter: string): void {
  if (!o || (typeof o.resource !== 'function' && !(typeof o.server === 'string' && o.server)))
    throw new TypeError(
      `${adapter}: options.server must name the tools' server (Tool::"<server>/<tool>"), or options.resource must map a tool to its resource`,
    );
}

/**
 * `fn` guarded as tool `name`: every call is decided (invokeTool, the tool's resource, `input`
 * of the call as context.input) and runs only when allowed; refusals throw CordonDeniedError.
 * `fn` receives the call's own arguments, untouched.
 */
export function guardToolCall<Args extends unknown[], R>(
  decider: Decider,
  name: string,
  fn: (...args: Args) => R | Promise<R>,
  o: ToolGuardOptions,
  input: (...args: Args) => unknown,
): (...args: Args) => Promise<R> {
  const { agent, user, token, session, approval, context } = o;
  const options: GuardOptions<Args> = {
    action: 'invokeTool',
    resource: (...args) =>
      o.resource
        ? o.resource(name, input(...args))
        : toolResource(o.server, name, o.attributes?.[name]),
    input,
    ...(agent !== undefined ? { agent } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(session !== undefined ? { session } : {}),
    ...(approval !== undefined ? { approval } : {}),
    ...(context !== undefined ? { context } : {}),
  };
  return guard(decider, fn, options);
}

/** Whether `e` is Cordon refusing a call (denied, awaiting approval, or no decision possible). */
export function isRefusal(e: unknown): e is CordonDeniedError {
  return e instanceof CordonDeniedError;
}

/**
 * What the model reads when Cordon refuses a tool call: the refusal as guard() words it (what
 * was refused, the decision id, the policies), and that the tool did not run. An approval
 * request says that it waits for a person, so the model can tell the user instead of retrying.
 */
export function refusalText(e: CordonDeniedError): string {
  const next =
    e.code === 'CORDON_APPROVAL_REQUIRED'
      ? 'The tool was not run; it may be called again once a person has approved the request.'
      : e.code === 'CORDON_UNAVAILABLE'
        ? 'The tool was not run.'
        : 'The tool was not run; do not retry it.';
  return `${e.message.replace(/[.\s]+$/, '')}. ${next}`;
}

/** Cordon's decision on a refused call, for frameworks that carry metadata beside the text. */
export function refusalMeta(e: CordonDeniedError): Record<string, unknown> {
  return {
    code: e.code,
    decision: e.outcome,
    ...(e.decisionId !== undefined ? { id: e.decisionId } : {}),
    ...(e.approvalId !== undefined ? { approvalId: e.approvalId } : {}),
    reasons: e.reasons,
  };
}
