// Anthropic Messages (POST /v1/messages), plain and streamed. A tool_use block is held from its
// content_block_start to its content_block_stop, decided, then written as it came or replaced
// by a text block carrying the refusal, at the same index.

import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { parseArgs, redactContent, refusalText, textOf } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';

interface Block {
  type: string;
  name?: string;
  input?: unknown;
  text?: string;
  [k: string]: unknown;
}
interface Message {
  content?: Block[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
  [k: string]: unknown;
}

function summarize(body: Record<string, unknown>) {
  const messages = Array.isArray(body.messages) ? (body.messages as Record<string, unknown>[]) : [];
  const tools = Array.isArray(body.tools) ? (body.tools as { name?: string }[]) : [];
  const system = textOf(body.system);
  return {
    model: String(body.model ?? ''),
    stream: body.stream === true,
    text: [system, ...messages.map((m) => textOf(m?.content))].filter(Boolean).join('\n'),
    tools: tools.map((t) => t.name ?? '').filter(Boolean),
  };
}

const sum = (u: Message['usage']) => (u?.input_tokens ?? 0) + (u?.output_tokens ?? 0);

class MessagesStream implements StreamRewriter {
  private readonly held = new Map<
    number,
    { events: SseEvent[]; name: string; json: string; input: unknown }
  >();
  private inputTokens = 0;
  private outputTokens: number | undefined;
  private allowedToolUse = 0;
  private deniedToolUse = 0;
  /** Each text block through its own redactor. */
  private readonly texts = new Map<number, TextStream>();

  constructor(
    private readonly judge: ToolJudge,
    private readonly rail: TextRail,
  ) {}

  tokens() {
    return this.outputTokens === undefined ? undefined : this.inputTokens + this.outputTokens;
  }

  async onEvent(e: SseEvent): Promise<SseEvent[]> {
    let data: {
      type?: string;
      index?: number;
      content_block?: Block;
      delta?: { type?: string; partial_json?: string; stop_reason?: string; text?: string };
      message?: Message;
      usage?: { output_tokens?: number };
    };
    try {
      data = JSON.parse(e.data) as typeof data;
    } catch {
      return [e];
    }
    switch (data.type) {
      case 'message_start':
        this.inputTokens = data.message?.usage?.input_tokens ?? 0;
        return [e];
      case 'content_block_start':
        if (data.content_block?.type === 'tool_use' && data.index !== undefined) {
          this.held.set(data.index, {
            events: [e],
            name: data.content_block.name ?? '',
            json: '',
            input: data.content_block.input ?? {},
          });
          return [];
        }
        if (data.content_block?.type === 'text' && data.index !== undefined)
          this.texts.set(data.index, this.rail.stream());
        return [e];
      case 'content_block_delta': {
        const text = data.index === undefined ? undefined : this.texts.get(data.index);
        if (text && data.delta?.type === 'text_delta' && typeof data.delta.text === 'string') {
          const out = text.push(data.delta.text);
          if (!out) return [];
          data.delta.text = out;
          return [{ event: e.event, data: JSON.stringify(data) }];
        }
        const h = data.index === undefined ? undefined : this.held.get(data.index);
        if (!h) return [e];
        h.events.push(e);
        h.json += data.delta?.partial_json ?? '';
        return [];
      }
      case 'content_block_stop': {
        const text = data.index === undefined ? undefined : this.texts.get(data.index);
        if (text) {
          this.texts.delete(data.index!);
          const rest = text.end();
          if (!rest) return [e];
          const delta = {
            type: 'content_block_delta',
            index: data.index,
            delta: { type: 'text_delta', text: rest },
          };
          return [{ event: 'content_block_delta', data: JSON.stringify(delta) }, e];
        }
        const h = data.index === undefined ? undefined : this.held.get(data.index);
        if (!h) return [e];
        this.held.delete(data.index!);
        // The arguments arrive as input_json_delta parts; a server may also send them whole.
        const d = await this.judge(h.name, h.json ? parseArgs(h.json) : h.input);
        if (d.decision === 'allow') {
          this.allowedToolUse++;
          return [...h.events, e];
        }
        this.deniedToolUse++;
        const index = data.index!;
        return [
          {
            event: 'content_block_start',
            data: JSON.stringify({
              type: 'content_block_start',
              index,
              content_block: { type: 'text', text: '' },
            }),
          },
          {
            event: 'content_block_delta',
            data: JSON.stringify({
              type: 'content_block_delta',
              index,
              delta: { type: 'text_delta', text: refusalText(h.name, d) },
            }),
          },
          e,
        ];
      }
      case 'message_delta':
        if (data.usage?.output_tokens !== undefined) this.outputTokens = data.usage.output_tokens;
        if (
          data.delta?.stop_reason === 'tool_use' &&
          this.allowedToolUse === 0 &&
          this.deniedToolUse > 0
        ) {
          data.delta.stop_reason = 'end_turn';
          return [{ event: e.event, data: JSON.stringify(data) }];
        }
        return [e];
      default:
        return [e];
    }
  }
}

export const anthropicMessages: Dialect = {
  summarize,
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    if (rail.idle) return body;
    const out: Record<string, unknown> = { ...body };
    if (body.system !== undefined) out.system = redactContent(body.system, rail);
    if (Array.isArray(body.messages))
      out.messages = (body.messages as Record<string, unknown>[]).map((m) =>
        m && typeof m === 'object' ? { ...m, content: redactContent(m.content, rail) } : m,
      );
    return out;
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Message;
    let allowed = 0;
    let denied = 0;
    const content: Block[] = [];
    for (const block of body.content ?? []) {
      if (block.type !== 'tool_use') {
        content.push(
          block.type === 'text' && typeof block.text === 'string'
            ? { ...block, text: rail.redact(block.text) }
            : block,
        );
        continue;
      }
      const d = await judge(block.name ?? '', block.input ?? {});
      if (d.decision === 'allow') {
        allowed++;
        content.push(block);
      } else {
        denied++;
        content.push({ type: 'text', text: refusalText(block.name ?? '', d) });
      }
    }
    if (body.content) body.content = content;
    if (denied > 0 && allowed === 0 && body.stop_reason === 'tool_use')
      body.stop_reason = 'end_turn';
    return body.usage ? { body, tokens: sum(body.usage) } : { body };
  },
  streamRewriter: (judge, _request, rail) => new MessagesStream(judge, rail),
};
