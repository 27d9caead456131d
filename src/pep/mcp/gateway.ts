// The MCP gateway for one downstream session: an SDK Server in front of the upstream servers.
// tools/list, prompts/list and resources/list show only what the principal may use;
// tools/call, prompts/get and resources/read are decided (and recorded) before they are
// forwarded. A denial is a tool result the agent can read, distinct from an unknown tool.

import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolRequest,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { traceMeta, traceToolCall } from './tracing.js';

type ToolCallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;
import type { ActionRequest, Decision, ResourceRef } from '../../core/types.js';
import type { DecisionService } from '../../decision/service.js';
import { inspectPayload, inspectToolResults } from './inspect-results.js';
import { NameTable } from './naming.js';
import {
  normalizeResourceUri,
  PathArgumentError,
  stdioPathSettings,
  toolPaths,
  type PathSettings,
} from './paths.js';
import { ToolPins, type PinVerdict, type ToolAttributes } from './pins.js';
import { descriptionRefusal } from './tool-descriptions.js';
import { Upstream, type DownstreamLink, type UpstreamSpec } from './upstream.js';
import { changeFor, sessionPrincipal, type IsolationWatch } from '../../isolation/watch.js';

/** Who the session acts as: an agent (and user) given on the command line, or a token. */
export interface GatewayIdentity {
  agent?: string;
  user?: string;
  token?: string;
}

export interface ToolCallContext {
  server: string;
  tool: string;
  /** The invokeTool request that was allowed. */
  request: ActionRequest;
  decision: Decision;
  result: CallToolResult;
}

/**
 * Sees every tool result before the agent does. The default inspects and redacts it by policy
 * (inspect-results.ts); a hook given in the options replaces that.
 */
export type ContentHook = (c: ToolCallContext) => CallToolResult | Promise<CallToolResult>;

export interface GatewayOptions {
  upstreams: UpstreamSpec[];
  decisions: DecisionService;
  identity: GatewayIdentity;
  contentHook?: ContentHook;
  /** Identifies the session in decisions (the MCP session id over HTTP). */
  session?: string;
  /** How long a call waits for a human's answer to an approval request (default: not at all). */
  approvalWaitMs?: number;
  /** The operator's tool pins (default: none; unpinned tools get the cautious attributes). */
  pins?: ToolPins;
  /** Isolation changes: the tool list is re-announced, and full isolation closes the session. */
  isolation?: IsolationWatch;
}

const DECISION_META = 'cordon/decision';
const LONG_CALL_TIMEOUT_MS = 30 * 60_000;

function withoutProgressToken(meta: Record<string, unknown>): Record<string, unknown> {
  const { progressToken: _token, ...rest } = meta;
  return rest;
}

/**
 * A line that is not JSON, or not JSON-RPC, gets a JSON-RPC error (the SDK's stdio transport
 * would only report it locally); the session carries on.
 */
export function answerMalformedMessages(
  server: Server,
  transport: Transport,
  onOther: (e: Error) => void,
): void {
  server.onerror = (e: Error) => {
    const code =
      e instanceof SyntaxError
        ? -32700
        : Array.isArray((e as { issues?: unknown }).issues)
          ? -32600
          : undefined;
    if (code === undefined) return onOther(e);
    void transport
      .send({
        jsonrpc: '2.0',
        id: null,
        error: { code, message: code === -32700 ? 'Parse error' : 'Invalid Request' },
      } as never)
      .catch(() => {});
  };
}

/** An allowed call whose record could not be made durable: its result does not reach the agent. */
function withheld(e: Error, d: Decision): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `Cordon: ${e.message}` }],
    _meta: { [DECISION_META]: { id: d.decisionId, decision: d.decision, reasons: d.reasons } },
  };
}

/** Where the server resolves paths: configured, or for stdio its own cwd and HOME. */
function pathSettings(spec: UpstreamSpec): PathSettings {
  const configured = {
    ...(spec.pathArguments ? { pathArguments: spec.pathArguments } : {}),
    ...(spec.pathBase ? { base: spec.pathBase } : {}),
  };
  return 'command' in spec ? { ...stdioPathSettings(spec), ...configured } : configured;
}

export class GatewaySession {
  readonly server: Server;
  private readonly prompts: NameTable;
  private readonly resourceServer = new Map<string, string>();
  private readonly templateServer = new Map<string, string>();
  /** Resources this session subscribed to (each subscription was decided), by upstream. */
  private readonly subscriptions = new Map<string, string>();
  private readonly toolNames: NameTable;
  private connecting: Promise<Upstream[]> | undefined;
  private upstreams: Upstream[] = [];
  private readonly unwatch: (() => void) | undefined;
  session: string;

  private constructor(private readonly opts: GatewayOptions) {
    const prefixed = opts.upstreams.length > 1;
    this.toolNames = new NameTable(prefixed);
    this.prompts = new NameTable(prefixed);
    this.session = opts.session ?? `mcp-${randomUUID()}`;
    // The gateway's own capabilities: lists are empty where no upstream has the feature.
    this.server = new Server(
      { name: 'cordon-mcp-gateway', version: '0.1.0' },
      {
        capabilities: {
          tools: { listChanged: true },
          prompts: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
          completions: {},
          logging: {},
        },
      },
    );
    this.registerHandlers();
    this.server.oninitialized = () => void this.ready().catch(() => {});
    const principal = sessionPrincipal(opts.identity);
    this.unwatch = opts.isolation?.onChange((c) => {
      const what = changeFor(c, principal, this.session);
      if (what === 'close') void this.close();
      // Only a client that initialized can be told; it lists again and sees what it may use.
      else if (what === 'relist' && this.server.getClientCapabilities())
        void this.server.sendToolListChanged().catch(() => {});
    });
  }

  static async open(opts: GatewayOptions): Promise<GatewaySession> {
    return new GatewaySession(opts);
  }

  /**
   * The upstreams, connected once the downstream client has initialized: they are offered what
   * it supports (sampling, elicitation, roots), so their requests to it can be forwarded.
   */
  private ready(): Promise<Upstream[]> {
    this.connecting ??= (async () => {
      const downstream = this.server.getClientCapabilities() ?? {};
      const s = this.server;
      const link = (server: string): DownstreamLink => ({
        capabilities: () => downstream,
        createMessage: (p) => s.createMessage(p as never),
        elicit: (p) => s.elicitInput(p as never),
        listRoots: () => s.listRoots(),
        // Log messages and resource updates are inspected like results, in order per server.
        notify: (method, params) => this.forwardNotification(server, method, params),
        // Only what this session subscribed to, from the upstream it subscribed at.
        resourceUpdated: (from, params) => {
          if (this.subscriptions.get(params.uri) === from)
            this.forwardNotification(from, 'notifications/resources/updated', params);
        },
        catalogChanged: (_server, what) => {
          const send =
            what === 'tools'
              ? s.sendToolListChanged()
              : what === 'prompts'
                ? s.sendPromptListChanged()
                : s.sendResourceListChanged();
          void send.catch(() => {});
        },
      });
      const connected: Upstream[] = [];
      try {
        for (const spec of this.opts.upstreams)
          connected.push(await Upstream.connect(spec, link(spec.name)));
      } catch (e) {
        await Promise.allSettled(connected.map((u) => u.close()));
        throw new McpError(ErrorCode.InternalError, (e as Error).message);
      }
      this.upstreams = connected;
      return connected;
    })();
    return this.connecting;
  }

  /** A fresher token for the same principal (HTTP clients refresh theirs). */
  useToken(token: string): void {
    this.opts.identity.token = token;
  }

  async close(): Promise<void> {
    this.unwatch?.();
    const ups = this.connecting ? await this.connecting.catch(() => [] as Upstream[]) : [];
    await Promise.allSettled(ups.map((u) => u.close()));
    await this.server.close();
  }

  private request(action: string, resource: ResourceRef, input?: unknown): ActionRequest {
    const { agent, user, token } = this.opts.identity;
    return {
      ...(agent ? { agent } : {}),
      ...(user ? { user } : {}),
      ...(token ? { token } : {}),
      session: this.session,
      action,
      resource,
      ...(input !== undefined ? { input } : {}),
      pep: 'mcp',
      // The gateway names its tools, prompts and resources itself: their server is a fact.
      trustedFor: [resource.type],
    };
  }

  private toolRef(server: string, tool: Tool, attributes: ToolAttributes): ResourceRef {
    return {
      type: 'Tool',
      id: `${server}/${tool.name}`,
      attrs: attributes,
      parents: [{ type: 'McpServer', id: server }],
    };
  }

  /**
   * Whether a tool may be shown and called, with the attributes policies see on it, or why
   * not: its pin (a changed definition is refused), and for an unpinned tool, an injection
   * scan of its definition (a pinned one was reviewed as it is).
   */
  private vet(server: string, tool: Tool): PinVerdict {
    const pinned = (this.opts.pins ??= new ToolPins()).verdict(server, tool);
    if (!pinned.ok || pinned.pinned) return pinned;
    const injected = descriptionRefusal(server, tool);
    return injected ? { ok: false, reason: injected } : pinned;
  }

  private upstream(name: string): Upstream {
    const u = this.upstreams.find((x) => x.name === name);
    if (!u || u.closed)
      throw new McpError(
        ErrorCode.InternalError,
        `MCP server "${name}" is not available (it closed or crashed)`,
      );
    return u;
  }

  /**
   * Visible in a list: some input could be permitted (the decision with `context.input`
   * unknown is not a deny), or the input the list already knows is (a resource's URI). The
   * call itself is decided again, on its real input.
   */
  private async visible(action: string, resource: ResourceRef, input?: unknown): Promise<boolean> {
    const d = await this.opts.decisions.decideVisibility(
      this.request(action, resource, input),
      input === undefined ? { unknownInput: true } : {},
    );
    return d.decision !== 'deny';
  }

  private refusal(exposed: string, d: Decision, approval: boolean): CallToolResult {
    const why = [
      ...new Set(d.reasons.map((r) => (r.message ? `${r.policy}: ${r.message}` : r.policy))),
    ].join('; ');
    const approvalId = d.approval?.id ?? d.decisionId;
    const text = approval
      ? `Cordon: ${exposed} needs a human approval before it runs (approval id ${approvalId}). ${why}`
      : `Cordon denied ${exposed} (decision ${d.decisionId}): ${why}`;
    return {
      isError: true,
      content: [{ type: 'text', text }],
      _meta: {
        [DECISION_META]: {
          id: d.decisionId,
          decision: d.decision,
          reasons: d.reasons,
          ...(approval ? { approvalId, expiresAt: d.approval?.expiresAt } : {}),
        },
      },
    };
  }

  /**
   * Waits, if configured, for a human's answer to a require_approval decision given out of band
   * (API, CLI, console): approved, the identical request is decided again and uses the approval.
   * The client is told what is waiting, through elicitation, but its answer approves nothing:
   * the client is the agent's own process, so a yes from it would be the agent approving itself.
   */
  private async seekApproval(
    exposed: string,
    request: ActionRequest,
    d: Decision,
  ): Promise<Decision> {
    const { decisions, approvalWaitMs } = this.opts;
    const approvals = decisions.approvals;
    const id = d.approval?.id;
    if (!approvals || !id || !approvalWaitMs) return d;
    void this.tellWaiting(exposed, d, request.input); // not awaited: the approver may be faster
    const now = await approvals.wait(id, approvalWaitMs);
    if (now?.status !== 'approved') return d;
    return decisions.decide({ ...request, parent: d.decisionId });
  }

  /** Tells the human at the client, when it can be told, that the call waits for an approver. */
  private async tellWaiting(exposed: string, d: Decision, input: unknown): Promise<void> {
    if (!this.server.getClientCapabilities()?.elicitation) return;
    try {
      await this.server.elicitInput({
        message: `Cordon holds ${exposed} for a human approval: ${[...new Set(d.reasons.map((x) => x.policy))].join(', ')} (approval ${d.approval?.id ?? d.decisionId}). An approver answers it with \`cordon approvals approve ${d.approval?.id ?? ''}\` or the approvals API; answering here does not approve it. Arguments: ${JSON.stringify(input ?? {}).slice(0, 2000)}`,
        requestedSchema: { type: 'object', properties: {} },
      });
    } catch {
      // Informing is best effort: the call waits for the approver either way.
    }
  }

  private registerHandlers(): void {
    const s = this.server;
    const { decisions } = this.opts;

    s.setRequestHandler(ListToolsRequestSchema, async () => {
      await this.ready();
      const useListTools = decisions.engine.policies.namesAction('listTools');
      const tools: Tool[] = [];
      for (const u of this.upstreams) {
        if (u.closed) continue;
        this.toolNames.clearServer(u.name);
        for (const t of u.tools) {
          const exposed = this.toolNames.add({ server: u.name, name: t.name });
          const vetted = this.vet(u.name, t);
          if (!vetted.ok) continue; // a call by name gets the reason
          const ref = this.toolRef(u.name, t, vetted.attributes);
          if (await this.visible(useListTools ? 'listTools' : 'invokeTool', ref))
            tools.push({ ...t, name: exposed });
        }
      }
      return { tools };
    });

    // tools/call: with tracing on, a span per call (mcp/tracing.ts) around all of it.
    const callTool = async (req: CallToolRequest, extra: ToolCallExtra) => {
      await this.ready();
      const exposed = req.params.name;
      const named = this.toolNames.resolve(exposed) ?? (await this.lookupTool(exposed));
      if (!named) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${exposed}`);
      const up = this.upstream(named.server);
      const tool = up.tools.find((t) => t.name === named.name)!;
      const vetted = this.vet(named.server, tool);
      if (!vetted.ok)
        return {
          isError: true,
          content: [{ type: 'text', text: `Cordon refused ${exposed}: ${vetted.reason}` }],
        };
      let input: unknown;
      let paths: string[];
      try {
        ({ input, paths } = toolPaths(req.params.arguments ?? {}, tool, pathSettings(up.spec)));
      } catch (e) {
        if (!(e instanceof PathArgumentError)) throw e;
        return {
          isError: true,
          content: [{ type: 'text', text: `Cordon refused ${exposed}: ${e.message}` }],
        };
      }
      const request = {
        ...this.request('invokeTool', this.toolRef(named.server, tool, vetted.attributes), input),
        paths,
      };
      // An allow comes back once its record is written; its fsync (audit sync full) runs beside
      // the call, and the result waits for it.
      const acting = await decisions.decideToAct(request);
      let d = acting.decision;
      if (d.decision === 'require_approval') d = await this.seekApproval(exposed, request, d);
      if (d.decision !== 'allow')
        return this.refusal(exposed, d, d.decision === 'require_approval');
      // Nothing the upstream says about this call (progress, an error, the result) reaches the
      // agent before the decision's record is durable; if it cannot be, the agent gets that.
      const lost = acting.durable.then(
        () => undefined,
        (e: Error) => e,
      );
      const downstreamToken = req.params._meta?.progressToken;
      // Progress goes out before the result: a client drops progress for a finished request.
      const progressSent: Promise<void>[] = [];
      // In order, and inspected: a progress message is text the agent reads.
      let queue: Promise<void> = Promise.resolve();
      const progress =
        downstreamToken === undefined
          ? undefined
          : up.progressToken((p) => {
              queue = queue
                .then(async () => {
                  if (await lost) return;
                  const i = await this.screen(named.server, p, request, d);
                  const { message: _m, ...bare } = p;
                  await extra.sendNotification({
                    method: 'notifications/progress',
                    params: { ...(i.ok ? i.value : bare), progressToken: downstreamToken },
                  });
                })
                .catch(() => {});
              progressSent.push(queue);
            });
      const meta = {
        ...(req.params._meta ? withoutProgressToken(req.params._meta) : {}),
        ...(progress ? { progressToken: progress.token } : {}),
        // Tracing: the upstream server's work is a child of this call's span.
        ...traceMeta(decisions.tracer),
      };
      let result: CallToolResult;
      try {
        result = (await up.client.callTool(
          {
            name: named.name,
            arguments: input as Record<string, unknown>,
            ...(Object.keys(meta).length ? { _meta: meta } : {}),
          },
          undefined,
          // A call that reports progress may run long: the SDK no longer sees that progress.
          { signal: extra.signal, ...(progress ? { timeout: LONG_CALL_TIMEOUT_MS } : {}) },
        )) as CallToolResult;
      } catch (e) {
        const unrecorded = await lost;
        if (unrecorded) return withheld(unrecorded, d);
        if (e instanceof McpError)
          throw new McpError(e.code, `MCP server "${named.server}": ${e.message}`);
        throw e;
      } finally {
        progress?.release();
      }
      await Promise.all(progressSent);
      const unrecorded = await lost;
      if (unrecorded) return withheld(unrecorded, d);
      const hook = (this.opts.contentHook ??= inspectToolResults(decisions));
      return hook({ server: named.server, tool: named.name, request, decision: d, result });
    };
    s.setRequestHandler(CallToolRequestSchema, (req, extra) =>
      decisions.tracer
        ? traceToolCall(decisions.tracer, req.params, extra, () => callTool(req, extra))
        : callTool(req, extra),
    );

    s.setRequestHandler(ListPromptsRequestSchema, async () => {
      await this.ready();
      const prompts = [];
      for (const u of this.upstreams) {
        if (u.closed) continue;
        this.prompts.clearServer(u.name);
        for (const p of await u.prompts()) {
          const exposed = this.prompts.add({ server: u.name, name: p.name });
          if (await this.visible('getPrompt', this.promptRef(u.name, p.name)))
            prompts.push({ ...p, name: exposed });
        }
      }
      return { prompts };
    });

    s.setRequestHandler(GetPromptRequestSchema, async (req) => {
      await this.ready();
      const named = this.promptNamed(req.params.name);
      if (!named) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${req.params.name}`);
      const ref = this.promptRef(named.server, named.name);
      const d = await decisions.decide(this.request('getPrompt', ref, req.params.arguments ?? {}));
      if (d.decision !== 'allow')
        throw new McpError(ErrorCode.InvalidRequest, this.refusalText(req.params.name, d));
      const prompt = await this.upstream(named.server).client.getPrompt({
        ...req.params,
        name: named.name,
      });
      return this.shown(`prompt ${req.params.name}`, prompt, d, ref);
    });

    s.setRequestHandler(ListResourcesRequestSchema, async () => {
      await this.ready();
      const resources = [];
      for (const u of this.upstreams) {
        if (u.closed) continue;
        for (const r of await u.resources()) {
          this.resourceServer.set(r.uri, u.name);
          try {
            this.resourceServer.set(normalizeResourceUri(r.uri), u.name);
          } catch {
            // listed as the server wrote it; a read names it normalized or not at all
          }
          if (await this.visible('readResource', this.resourceRef(u.name, r.uri), { uri: r.uri }))
            resources.push(r);
        }
      }
      return { resources };
    });

    s.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: (
        await Promise.all(
          (await this.ready())
            .filter((u) => !u.closed)
            .map(async (u) => {
              const templates = await u.resourceTemplates();
              for (const t of templates) this.templateServer.set(t.uriTemplate, u.name);
              return templates;
            }),
        )
      ).flat(),
    }));

    s.setRequestHandler(ReadResourceRequestSchema, async (req) => {
      await this.ready();
      // Decided and forwarded normalized, as path arguments are: `..` and `%2e%2e` resolved.
      let uri: string;
      try {
        uri = normalizeResourceUri(req.params.uri);
      } catch (e) {
        if (!(e instanceof PathArgumentError)) throw e;
        throw new McpError(ErrorCode.InvalidParams, `Cordon refused it: ${e.message}`);
      }
      const withResources = this.upstreams.filter((u) => u.capabilities().resources);
      const server =
        this.resourceServer.get(uri) ??
        (withResources.length === 1 ? withResources[0]!.name : undefined);
      if (!server)
        throw new McpError(
          ErrorCode.InvalidParams,
          `Unknown resource: ${uri} (list resources first)`,
        );
      const ref = this.resourceRef(server, uri);
      const d = await decisions.decide(this.request('readResource', ref, { uri }));
      if (d.decision !== 'allow')
        throw new McpError(ErrorCode.InvalidRequest, this.refusalText(uri, d));
      const contents = await this.upstream(server).client.readResource({ ...req.params, uri });
      return this.shown(uri, contents, d, ref);
    });

    // Completion suggests values for a prompt's or a resource template's arguments: it is
    // decided as getting that prompt (with the arguments so far) or reading that template.
    s.setRequestHandler(CompleteRequestSchema, async (req) => {
      await this.ready();
      const { ref, argument } = req.params;
      const input = { ...req.params.context?.arguments, [argument.name]: argument.value };
      let server: string | undefined;
      let upstreamRef = ref;
      let d: Decision;
      let what: string;
      if (ref.type === 'ref/prompt') {
        const named = this.promptNamed(ref.name);
        if (!named) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
        server = named.server;
        upstreamRef = { ...ref, name: named.name };
        what = ref.name;
        d = await decisions.decide(
          this.request('getPrompt', this.promptRef(named.server, named.name), input),
        );
      } else {
        server = this.templateServer.get(ref.uri) ?? this.onlyResourceServer();
        if (!server)
          throw new McpError(
            ErrorCode.InvalidParams,
            `Unknown resource template: ${ref.uri} (list resource templates first)`,
          );
        what = ref.uri;
        d = await decisions.decide(
          this.request('readResource', this.resourceRef(server, ref.uri), {
            uri: ref.uri,
            arguments: input,
          }),
        );
      }
      if (d.decision !== 'allow')
        throw new McpError(ErrorCode.InvalidRequest, this.refusalText(what, d));
      const up = this.upstream(server);
      // A server without completions has none to offer: an empty list, as the spec allows.
      if (!up.capabilities().completions) return { completion: { values: [] } };
      return up.client.complete({ ...req.params, ref: upstreamRef });
    });

    // A subscription delivers news of a resource: it is decided as reading it.
    s.setRequestHandler(SubscribeRequestSchema, async (req) => {
      await this.ready();
      const uri = req.params.uri;
      const server = this.resourceServer.get(uri) ?? this.onlyResourceServer();
      if (!server)
        throw new McpError(
          ErrorCode.InvalidParams,
          `Unknown resource: ${uri} (list resources first)`,
        );
      const d = await decisions.decide(
        this.request('readResource', this.resourceRef(server, uri), { uri }),
      );
      if (d.decision !== 'allow')
        throw new McpError(ErrorCode.InvalidRequest, this.refusalText(uri, d));
      const up = this.upstream(server);
      if (!up.capabilities().resources?.subscribe)
        throw new McpError(
          ErrorCode.MethodNotFound,
          `MCP server "${server}" does not support resource subscriptions`,
        );
      await up.client.subscribeResource({ uri });
      this.subscriptions.set(uri, server);
      return {};
    });

    // Ending a subscription needs no decision, only one this session holds.
    s.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
      await this.ready();
      const uri = req.params.uri;
      const server = this.subscriptions.get(uri);
      if (!server)
        throw new McpError(ErrorCode.InvalidParams, `Not subscribed to ${uri} on this session`);
      this.subscriptions.delete(uri);
      await this.upstream(server).client.unsubscribeResource({ uri });
      return {};
    });

    s.setRequestHandler(SetLevelRequestSchema, async (req) => {
      await this.ready();
      await Promise.allSettled(
        this.upstreams
          .filter((u) => !u.closed && u.capabilities().logging)
          .map((u) => u.client.setLoggingLevel(req.params.level)),
      );
      return {};
    });
  }

  /** A prompt or resource as the agent may see it, or an error saying why it may not. */
  private async shown<T extends object>(
    what: string,
    payload: T,
    d: Decision,
    ref: ResourceRef,
  ): Promise<T> {
    const request = this.request('readToolResult', ref);
    const i = await inspectPayload(
      this.opts.decisions,
      { label: what, request, decision: d },
      payload,
      ref,
    );
    if (!i.ok) throw new McpError(ErrorCode.InvalidRequest, `Cordon withheld ${what}: ${i.why}`);
    return i.value;
  }

  /** A notification's params as the agent may see them (resource: the server). */
  private screen<T extends object>(
    server: string,
    params: T,
    request?: ActionRequest,
    d?: Decision,
  ) {
    const ref: ResourceRef = { type: 'McpServer', id: server };
    return inspectPayload(
      this.opts.decisions,
      {
        label: `a notification from ${server}`,
        request: request ?? this.request('readToolResult', ref),
        ...(d ? { decision: d } : {}),
      },
      params,
      ref,
    );
  }

  private readonly notifying = new Map<string, Promise<void>>();

  /** Forwards a server's notification once inspected, in order; a withheld one says so. */
  private forwardNotification(server: string, method: string, params: unknown): void {
    const s = this.server;
    const before = this.notifying.get(server) ?? Promise.resolve();
    const next = before
      .then(async () => {
        const i = await this.screen(server, (params ?? {}) as object);
        if (i.ok) return s.notification({ method, params: i.value } as never);
        if (method === 'notifications/message')
          return s.notification({
            method,
            params: {
              level: 'warning',
              logger: 'cordon',
              data: `Cordon withheld a log message from ${server}: ${i.why}`,
            },
          } as never);
      })
      .catch(() => {});
    this.notifying.set(server, next);
  }

  /** A prompt by exposed name; with one upstream, any name is that upstream's. */
  private promptNamed(exposed: string) {
    return (
      this.prompts.resolve(exposed) ??
      (this.upstreams.length === 1 ? { server: this.upstreams[0]!.name, name: exposed } : undefined)
    );
  }

  /** The upstream that serves resources, when only one does. */
  private onlyResourceServer(): string | undefined {
    const withResources = this.upstreams.filter((u) => u.capabilities().resources);
    return withResources.length === 1 ? withResources[0]!.name : undefined;
  }

  /**
   * A name not in the table: a call before any tools/list, or a tool an upstream added since
   * (servers register some after initialize). Rebuild the table, refreshing catalogs once.
   */
  private async lookupTool(exposed: string) {
    const rebuild = () => {
      for (const u of this.upstreams)
        for (const t of u.tools) this.toolNames.add({ server: u.name, name: t.name });
      return this.toolNames.resolve(exposed);
    };
    const found = rebuild();
    if (found) return found;
    await Promise.allSettled(this.upstreams.filter((u) => !u.closed).map((u) => u.refreshTools()));
    return rebuild();
  }

  private refusalText(what: string, d: Decision): string {
    return `Cordon ${d.decision === 'require_approval' ? 'requires an approval for' : 'denied'} ${what} (decision ${d.decisionId}): ${d.reasons.map((r) => r.policy).join(', ')}`;
  }

  private promptRef(server: string, name: string): ResourceRef {
    return {
      type: 'McpPrompt',
      id: `${server}/${name}`,
      attrs: { name },
      parents: [{ type: 'McpServer', id: server }],
    };
  }

  private resourceRef(server: string, uri: string): ResourceRef {
    return {
      type: 'McpResource',
      id: `${server}/${uri}`,
      attrs: { uri },
      parents: [{ type: 'McpServer', id: server }],
    };
  }
}
