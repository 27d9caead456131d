// A span for each tools/call through the gateway when tracing is on (docs/telemetry.md), named
// and described as the OpenTelemetry MCP and GenAI conventions describe a tool execution:
// `tools/call <tool>`, gen_ai.operation.name execute_tool, gen_ai.tool.name, the JSON-RPC id.
// Its parent is the W3C trace context in the request's `params._meta` (the MCP convention) or,
// over Streamable HTTP, in its headers; the decision and the upstream call are its children.

import type { Carrier, TracerPort } from '../../core/tracer.js';

interface CallParams {
  name: string;
  _meta?: Record<string, unknown> | undefined;
}

interface CallExtra {
  requestId: string | number;
  sessionId?: string | undefined;
  requestInfo?: { headers: Carrier } | undefined;
}

const TRACE_KEYS = ['traceparent', 'tracestate'] as const;

export function traceToolCall<T extends { isError?: boolean }>(
  tracer: TracerPort,
  params: CallParams,
  extra: CallExtra,
  run: () => Promise<T>,
): Promise<T> {
  const carrier: Carrier = { ...extra.requestInfo?.headers };
  for (const k of TRACE_KEYS) {
    const v = params._meta?.[k];
    if (typeof v === 'string') carrier[k] = v;
  }
  return tracer.spanFrom(
    carrier,
    `tools/call ${params.name}`,
    {
      kind: 'server',
      attributes: {
        'mcp.method.name': 'tools/call',
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': params.name,
        'jsonrpc.request.id': String(extra.requestId),
        'mcp.session.id': extra.sessionId,
      },
    },
    async (span) => {
      const result = await run();
      // A refusal or an upstream tool error is a result the agent reads, not a failed span.
      if (result.isError) span.set({ 'error.type': 'tool_error' });
      return result;
    },
  );
}

/** The trace context to hand the upstream MCP server in `_meta` (none when not tracing). */
export function traceMeta(tracer: TracerPort | undefined): Record<string, string> {
  const meta: Record<string, string> = {};
  tracer?.inject(meta);
  return meta;
}
