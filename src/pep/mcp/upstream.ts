// One upstream MCP server, reached with the official SDK client over stdio (spawned with its
// environment) or Streamable HTTP. Keeps its tool catalog, with the annotations the server itself
// declares, and forwards requests the server makes of the client (sampling, elicitation, roots)
// to whatever the downstream client handler is.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  ClientCapabilities,
  JSONRPCMessage,
  Prompt,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

export type UpstreamSpec = (
  | { name: string; command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
  | { name: string; url: string; headers?: Record<string, string> }
) & {
  /** Tool arguments that are paths, per tool, beyond what names and schemas say (mcp/paths.ts). */
  pathArguments?: Record<string, string[]>;
  /** Where the server resolves relative paths (default: a stdio server's cwd). */
  pathBase?: string;
};

/** What the gateway does with what an upstream asks or tells. */
export interface DownstreamLink {
  capabilities(): ClientCapabilities;
  createMessage(params: unknown): Promise<unknown>;
  elicit(params: unknown): Promise<unknown>;
  listRoots(): Promise<unknown>;
  notify(method: string, params: unknown): void;
  /** A resource this upstream was asked to watch changed (`notifications/resources/updated`). */
  resourceUpdated(server: string, params: { uri: string }): void;
  catalogChanged(server: string, what: 'tools' | 'prompts' | 'resources'): void;
}

export class UpstreamError extends Error {}

const VERSION = '0.1.0';

export type ProgressParams = { progress: number; total?: number; message?: string };

export class Upstream {
  readonly client: Client;
  tools: Tool[] = [];
  closed = false;
  /** Progress listeners by the token the gateway put on its forwarded request. */
  private readonly progress = new Map<string, (p: ProgressParams) => void>();
  private nextToken = 0;

  private constructor(
    readonly spec: UpstreamSpec,
    client: Client,
  ) {
    this.client = client;
  }

  get name(): string {
    return this.spec.name;
  }

  static async connect(spec: UpstreamSpec, link: DownstreamLink): Promise<Upstream> {
    // Offer upstream what the downstream client offers us, so server-initiated requests work.
    const downstream = link.capabilities();
    const capabilities: ClientCapabilities = {};
    if (downstream.sampling) capabilities.sampling = downstream.sampling;
    if (downstream.elicitation) capabilities.elicitation = downstream.elicitation;
    if (downstream.roots) capabilities.roots = { listChanged: false };
    const client = new Client({ name: 'cordon-mcp-gateway', version: VERSION }, { capabilities });
    const up = new Upstream(spec, client);
    // The SDK accepts handlers only for the capabilities this client declared.
    if (capabilities.sampling)
      client.setRequestHandler(
        CreateMessageRequestSchema,
        async (r) => (await link.createMessage(r.params)) as never,
      );
    if (capabilities.elicitation)
      client.setRequestHandler(
        ElicitRequestSchema,
        async (r) => (await link.elicit(r.params)) as never,
      );
    if (capabilities.roots)
      client.setRequestHandler(
        ListRootsRequestSchema,
        async () => (await link.listRoots()) as never,
      );
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
      link.notify(n.method, n.params),
    );
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) =>
      link.resourceUpdated(up.name, n.params),
    );
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      await up.refreshTools();
      link.catalogChanged(up.name, 'tools');
    });
    client.setNotificationHandler(PromptListChangedNotificationSchema, () =>
      link.catalogChanged(up.name, 'prompts'),
    );
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () =>
      link.catalogChanged(up.name, 'resources'),
    );
    client.onclose = () => {
      up.closed = true;
    };

    const transport =
      'command' in spec
        ? new StdioClientTransport({
            command: spec.command,
            args: spec.args ?? [],
            env: { ...getDefaultEnvironment(), ...spec.env },
            ...(spec.cwd ? { cwd: spec.cwd } : {}),
            stderr: 'inherit',
          })
        : new StreamableHTTPClientTransport(
            new URL(spec.url),
            spec.headers ? { requestInit: { headers: spec.headers } } : undefined,
          );
    try {
      await client.connect(transport);
    } catch (e) {
      throw new UpstreamError(
        `cannot connect to MCP server "${spec.name}": ${(e as Error).message}`,
      );
    }
    // The SDK hands notifications to their handlers a microtask late but settles responses at
    // once, so a tool's last progress notification, read together with its result, is lost.
    // Progress for our forwarded calls is taken off the wire here, synchronously, in order.
    const deliver = transport.onmessage!;
    transport.onmessage = (message: JSONRPCMessage) => {
      const m = message as {
        method?: string;
        params?: { progressToken?: unknown } & ProgressParams;
      };
      if (m.method === 'notifications/progress' && typeof m.params?.progressToken === 'string') {
        const listener = up.progress.get(m.params.progressToken);
        if (listener) {
          const { progressToken: _t, ...params } = m.params;
          listener(params);
          return;
        }
      }
      deliver(message);
    };
    await up.refreshTools();
    return up;
  }

  /** A progress token for a forwarded request, and its listener until `release`. */
  progressToken(listener: (p: ProgressParams) => void): { token: string; release(): void } {
    const token = `cordon-${++this.nextToken}`;
    this.progress.set(token, listener);
    return { token, release: () => this.progress.delete(token) };
  }

  capabilities() {
    return this.client.getServerCapabilities() ?? {};
  }

  async refreshTools(): Promise<void> {
    if (!this.capabilities().tools) return;
    this.tools = await pages(
      (cursor) => this.client.listTools(cursor ? { cursor } : {}),
      (r) => r.tools,
    );
  }

  async prompts(): Promise<Prompt[]> {
    if (!this.capabilities().prompts) return [];
    return pages(
      (cursor) => this.client.listPrompts(cursor ? { cursor } : {}),
      (r) => r.prompts,
    );
  }

  async resources(): Promise<Resource[]> {
    if (!this.capabilities().resources) return [];
    return pages(
      (cursor) => this.client.listResources(cursor ? { cursor } : {}),
      (r) => r.resources,
    );
  }

  async resourceTemplates(): Promise<ResourceTemplate[]> {
    if (!this.capabilities().resources) return [];
    return pages(
      (cursor) => this.client.listResourceTemplates(cursor ? { cursor } : {}),
      (r) => r.resourceTemplates,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.close();
  }
}

/** Every page of a paginated list (the gateway answers with one merged page). */
async function pages<R extends { nextCursor?: string | undefined }, T>(
  fetch: (cursor?: string) => Promise<R>,
  items: (r: R) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const r = await fetch(cursor);
    out.push(...items(r));
    cursor = r.nextCursor;
    if (!cursor) return out;
  }
  throw new UpstreamError('more than 1000 pages');
}
