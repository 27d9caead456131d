// What each wire format (OpenAI chat, OpenAI responses, OpenAI embeddings, Anthropic messages)
// tells the gateway, and how the gateway rewrites it. Each dialect is pure: the route does I/O.

import type { Decision } from '../core/types.js';
import type { TextRail } from './rail.js';
import type { SseEvent } from './sse.js';

/** Decides one model-proposed tool call (invokeTool on Tool::"<name>" with its arguments). */
export type ToolJudge = (name: string, args: unknown) => Promise<Decision>;

export interface RequestSummary {
  model: string;
  stream: boolean;
  /** All message text the input rail inspects: system, user, assistant, tool results. */
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
  summarize(body: Record<string, unknown>): RequestSummary;
  /** The body sent upstream: the provider's model name, usage reporting asked for. */
  upstreamBody(body: Record<string, unknown>, model: string): Record<string, unknown>;
  /** The input rail: every message text the model would read, redacted. */
  redactRequest(body: Record<string, unknown>, rail: TextRail): Record<string, unknown>;
  /** The output rail on a whole answer: tool calls decided, texts redacted. */
  rewrite(body: unknown, judge: ToolJudge, rail: TextRail): Promise<Rewritten>;
  streamRewriter(
    judge: ToolJudge,
    request: Record<string, unknown>,
    rail: TextRail,
  ): StreamRewriter;
}

/** A message content value (a string, or parts with text) with each text redacted. */
export function redactContent(content: unknown, rail: TextRail): unknown {
  if (typeof content === 'string') return rail.redact(content);
  if (!Array.isArray(content)) return content;
  return (content as Record<string, unknown>[]).map((p) => {
    if (!p || typeof p !== 'object') return p;
    const out = { ...p };
    if (typeof p.text === 'string') out.text = rail.redact(p.text);
    if (p.content !== undefined) out.content = redactContent(p.content, rail); // tool results
    if (typeof p.output === 'string') out.output = rail.redact(p.output);
    return out;
  });
}

export const refusalText = (name: string, d: Decision): string =>
  `Cordon ${d.decision === 'require_approval' ? `requires an approval (id ${d.approval?.id ?? d.decisionId}) for` : 'denied'} the tool call ${name} (decision ${d.decisionId}): ${[
    ...new Set(d.reasons.map((r) => r.policy)),
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

/** Text of a message content value in either API: a string, or parts with text. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const p of content as Record<string, unknown>[]) {
    if (!p || typeof p !== 'object') continue;
    if (typeof p.text === 'string') parts.push(p.text);
    else if (p.content !== undefined)
      parts.push(textOf(p.content)); // tool results
    else if (typeof p.input === 'object') parts.push(JSON.stringify(p.input));
  }
  return parts.join('\n');
}
