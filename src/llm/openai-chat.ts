// OpenAI Chat Completions (POST /v1/chat/completions), plain and streamed. Tool calls the model
// proposes are held until complete, decided, and either passed on or replaced by a refusal the
// agent reads as assistant text.

import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { parseArgs, redactContent, refusalText, textOf } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';

interface ToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}
interface Choice {
  index: number;
  message?: { content?: string | null; tool_calls?: ToolCall[]; [k: string]: unknown };
  delta?: {
    content?: string | null;
    tool_calls?: (ToolCall & { index: number })[];
    [k: string]: unknown;
  };
  finish_reason?: string | null;
  [k: string]: unknown;
}
interface Completion {
  choices?: Choice[];
  usage?: { total_tokens?: number } | null;
  [k: string]: unknown;
}

function summarize(body: Record<string, unknown>) {
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const tools = Array.isArray(body.tools) ? (body.tools as { function?: { name?: string } }[]) : [];
  return {
    model: String(body.model ?? ''),
    stream: body.stream === true,
    text: messages
      .map((m) => textOf(m?.content))
      .filter(Boolean)
      .join('\n'),
    tools: tools.map((t) => t.function?.name ?? '').filter(Boolean),
  };
}

async function judgeCalls(
  calls: ToolCall[],
  judge: ToolJudge,
): Promise<{ allowed: ToolCall[]; refusals: string[] }> {
  const allowed: ToolCall[] = [];
  const refusals: string[] = [];
  for (const c of calls) {
    const name = c.function?.name ?? '';
    const d = await judge(name, parseArgs(c.function?.arguments ?? ''));
    if (d.decision === 'allow') allowed.push(c);
    else refusals.push(refusalText(name, d));
  }
  return { allowed, refusals };
}

class ChatStream implements StreamRewriter {
  /** Tool calls being streamed, per choice, by their index in the stream. */
  private readonly held = new Map<number, Map<number, ToolCall>>();
  /** The text of each choice, through its own redactor. */
  private readonly texts = new Map<number, TextStream>();
  private usage: number | undefined;

  constructor(
    private readonly judge: ToolJudge,
    private readonly clientWantsUsage: boolean,
    private readonly rail: TextRail,
  ) {}

  private text(choice: number): TextStream {
    let t = this.texts.get(choice);
    if (!t) this.texts.set(choice, (t = this.rail.stream()));
    return t;
  }

  tokens() {
    return this.usage;
  }

  async onEvent(e: SseEvent): Promise<SseEvent[]> {
    if (e.data === '[DONE]') return [e];
    let chunk: Completion;
    try {
      chunk = JSON.parse(e.data) as Completion;
    } catch {
      return [e];
    }
    if (chunk.usage?.total_tokens !== undefined) this.usage = chunk.usage.total_tokens;
    const choices = chunk.choices ?? [];
    if (choices.length === 0) return chunk.usage && !this.clientWantsUsage ? [] : [e];
    const out: SseEvent[] = [];
    const kept: Choice[] = [];
    for (const choice of choices) {
      const delta = choice.delta ?? {};
      if (delta.tool_calls) {
        const calls = this.held.get(choice.index) ?? new Map<number, ToolCall>();
        this.held.set(choice.index, calls);
        for (const part of delta.tool_calls) {
          const c = calls.get(part.index) ?? { function: { name: '', arguments: '' } };
          if (part.id) c.id = part.id;
          if (part.type) c.type = part.type;
          if (part.function?.name) c.function!.name += part.function.name;
          if (part.function?.arguments) c.function!.arguments += part.function.arguments;
          calls.set(part.index, c);
        }
        const { tool_calls: _held, ...rest } = delta;
        choice.delta = rest;
      }
      if (typeof choice.delta?.content === 'string' && choice.delta.content !== '') {
        // Released as far as no later delta can complete a secret; the rest is held.
        const out = this.text(choice.index).push(choice.delta.content);
        if (out) choice.delta.content = out;
        else delete choice.delta.content;
      }
      if (choice.finish_reason) {
        out.push(...(await this.release(chunk, choice)));
        kept.push(choice);
      } else if (Object.values(choice.delta ?? {}).some((v) => v !== undefined && v !== null)) {
        kept.push(choice);
      }
    }
    if (kept.length > 0) {
      // Released tool calls go before the chunk that finishes their choice.
      out.push({ data: JSON.stringify({ ...chunk, choices: kept }) });
    }
    if (chunk.usage && !this.clientWantsUsage) {
      const last = out[out.length - 1];
      if (last) {
        const parsed = JSON.parse(last.data) as Completion;
        delete parsed.usage;
        last.data = JSON.stringify(parsed);
      }
    }
    return out;
  }

  /** The choice's held text, then its held tool calls: decided, written whole, re-indexed. */
  private async release(chunk: Completion, choice: Choice): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    const rest = this.texts.get(choice.index)?.end();
    this.texts.delete(choice.index);
    if (rest) {
      events.push({
        data: JSON.stringify({
          ...chunk,
          usage: undefined,
          choices: [{ index: choice.index, delta: { content: rest }, finish_reason: null }],
        }),
      });
    }
    const calls = this.held.get(choice.index);
    if (!calls || calls.size === 0) return events;
    this.held.delete(choice.index);
    const ordered = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    const { allowed, refusals } = await judgeCalls(ordered, this.judge);
    const base = { ...chunk, usage: undefined };
    allowed.forEach((c, i) => {
      events.push({
        data: JSON.stringify({
          ...base,
          choices: [
            {
              index: choice.index,
              delta: {
                tool_calls: [
                  { index: i, id: c.id, type: c.type ?? 'function', function: c.function },
                ],
              },
              finish_reason: null,
            },
          ],
        }),
      });
    });
    if (refusals.length > 0) {
      events.push({
        data: JSON.stringify({
          ...base,
          choices: [
            { index: choice.index, delta: { content: refusals.join('\n') }, finish_reason: null },
          ],
        }),
      });
    }
    if (allowed.length === 0 && choice.finish_reason === 'tool_calls')
      choice.finish_reason = 'stop';
    return events;
  }
}

export const openaiChat: Dialect = {
  summarize,
  upstreamBody(body, model) {
    const out: Record<string, unknown> = { ...body, model };
    // Usage is what budgets count: ask for it on streams too (dropped again if not wanted).
    if (body.stream === true)
      out.stream_options = { ...(body.stream_options as object), include_usage: true };
    return out;
  },
  redactRequest(body, rail) {
    if (rail.idle || !Array.isArray(body.messages)) return body;
    const messages = (body.messages as Record<string, unknown>[]).map((m) =>
      m && typeof m === 'object' ? { ...m, content: redactContent(m.content, rail) } : m,
    );
    return { ...body, messages };
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Completion;
    for (const choice of body.choices ?? []) {
      if (typeof choice.message?.content === 'string')
        choice.message.content = rail.redact(choice.message.content);
      const calls = choice.message?.tool_calls;
      if (!calls?.length) continue;
      const { allowed, refusals } = await judgeCalls(calls, judge);
      const msg = choice.message!;
      if (allowed.length > 0) msg.tool_calls = allowed;
      else delete msg.tool_calls;
      if (refusals.length > 0)
        msg.content = [msg.content, ...refusals]
          .filter((x) => typeof x === 'string' && x)
          .join('\n');
      if (allowed.length === 0 && choice.finish_reason === 'tool_calls')
        choice.finish_reason = 'stop';
    }
    const tokens = body.usage?.total_tokens;
    return tokens === undefined ? { body } : { body, tokens };
  },
  streamRewriter(judge, request, rail) {
    const opts = request.stream_options as { include_usage?: boolean } | undefined;
    return new ChatStream(judge, opts?.include_usage === true, rail);
  },
};
