// What each wire format (OpenAI chat, OpenAI responses, OpenAI embeddings, Anthropic messages)
// tells the gateway, and how the gateway rewrites it. Each dialect is pure: the route does I/O.

import { RequestError } from '../../core/request.js';
import type { Decision } from '../../core/types.js';
import type { TextRail } from './rail.js';
import type { SseEvent } from './sse.js';
import { textOfTree } from './text-walk.js';

/** Decides one model-proposed tool call (invokeTool on Tool::"<name>" with its arguments). */
export type ToolJudge = (name: string, args: unknown) => Promise<Decision>;

export interface RequestSummary {
  model: string;
  stream: boolean;
  /** Every string of the body the provider reads (text-walk.ts): what the input rail inspects. */
  text: string;
  /** Names of the tools the request offers the model. */
  tools: string[];
}

export interface Rewritten {
  body: unknown;
  /** Tokens the provider reported for this request, when it did. */
  tokens?: number;
}

export interface StreamRewriter {
  /** The events to write for one upstream event (none while a tool call is held back). */
  onEvent(e: SseEvent): Promise<SseEvent[]>;
  /** Tokens reported by the stream, once it has ended. */
  tokens(): number | undefined;
}

export interface Dialect {
  /** Throws RequestError for a body the gateway cannot read. */
  summarize(body: Record<string, unknown>): RequestSummary;
  /** The body sent upstream: the provider's model name, usage reporting asked for. */
  upstreamBody(body: Record<string, unknown>, model: string): Record<string, unknown>;
  /** The input rail: every string the provider would read, redacted (in place). */
  redactRequest(body: Record<string, unknown>, rail: TextRail): Record<string, unknown>;
  /** The output rail on a whole answer: tool calls decided, texts redacted. */
  rewrite(body: unknown, judge: ToolJudge, rail: TextRail): Promise<Rewritten>;
  streamRewriter(
    judge: ToolJudge,
    request: Record<string, unknown>,
    rail: TextRail,
  ): StreamRewriter;
}

/**
 * What a request asks, checked enough to be decided: the fields the gateway reads must have
 * their types (anything else the provider judges). The text is every string of the body.
 */
export function requestSummary(body: Record<string, unknown>, list?: string): RequestSummary {
  if (typeof body.model !== 'string' || body.model === '')
    throw new RequestError('"model" must be a string: <upstream>/<model>');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw new RequestError('"stream" must be true or false');
  if (list && !Array.isArray(body[list])) throw new RequestError(`"${list}" must be an array`);
  if (body.tools !== undefined && body.tools !== null && !Array.isArray(body.tools))
    throw new RequestError('"tools" must be an array');
  const tools: string[] = [];
  for (const t of (body.tools ?? []) as Record<string, unknown>[]) {
    if (!t || typeof t !== 'object') throw new RequestError('each of "tools" must be an object');
    const named = (t.function ?? t.custom ?? t) as { name?: unknown };
    if (typeof named?.name === 'string' && named.name) tools.push(named.name);
  }
  return { model: body.model, stream: body.stream === true, text: textOfTree(body), tools };
}

export const refusalText = (name: string, d: Decision): string =>
  `Cordon ${d.decision === 'require_approval' ? `requires an approval (id ${d.approval?.id ?? d.decisionId}) for` : 'denied'} the tool call ${name} (decision ${d.decisionId}): ${[
    // Cordon's own reasons say why (an isolation names itself and its cause); policies by id.
    ...new Set(
      d.reasons.map((r) =>
        r.policy.startsWith('cordon/') && r.message ? `${r.policy}: ${r.message}` : r.policy,
      ),
    ),
  ].join(', ')}`;

/** Arguments as the model wrote them: JSON text, parsed when it parses. */
export function parseArgs(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { _unparsed: text };
  }
}
