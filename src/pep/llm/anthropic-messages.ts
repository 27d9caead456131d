// Anthropic Messages (POST /v1/messages), plain and streamed. Every content block that proposes
// an action (tool_use, server_tool_use, mcp_tool_use; actions.ts) is held from its
// content_block_start to its content_block_stop, decided, then written as it came (its input
// redacted) or replaced by a text block carrying the refusal, at the same index; a block type
// Cordon does not know is refused. Every string of the rest is redacted: text and thinking
// deltas through one redactor per block and field (the block's start text included).

import { anthropicAction, verdict } from './actions.js';
import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { parseArgs, requestSummary } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';
import { redactArgs, redactTree } from './text-walk.js';

interface Block {
  type: string;
  name?: string;
  input?: unknown;
  [k: string]: unknown;
}
interface Message {
  content?: Block[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
  [k: string]: unknown;
}
interface StreamData {
  type?: string;
  index?: number;
  content_block?: Block;
  delta?: { type?: string; partial_json?: string; stop_reason?: string; [k: string]: unknown };
  message?: Message;
  usage?: { output_tokens?: number };
  [k: string]: unknown;
}

const sum = (u: Message['usage']) => (u?.input_tokens ?? 0) + (u?.output_tokens ?? 0);

/** Streamed text fields, by the delta type that carries them. */
const TEXT_DELTAS: Record<string, string> = { text_delta: 'text', thinking_delta: 'thinking' };
const DELTA_OF: Record<string, string> = { text: 'text_delta', thinking: 'thinking_delta' };

const what = (block: Block) => `a content block of type "${String(block.type)}"`;

/**
 * A whole message's blocks decided: each action block kept or replaced by a text block with
 * the refusal; `stop_reason` tool_use becomes end_turn when no tool_use is left.
 */
async function decideContent(
  message: Message,
  judge: ToolJudge,
): Promise<{ allowed: number; denied: number }> {
  if (!Array.isArray(message.content)) return { allowed: 0, denied: 0 };
  let allowed = 0;
  let denied = 0;
  const content: Block[] = [];
  for (const block of message.content) {
    const action = block && typeof block === 'object' ? anthropicAction(block) : undefined;
    if (action === undefined) {
      content.push(block);
      continue;
    }
    const refusal = await verdict(judge, action, what(block));
    if (refusal === undefined) {
      if (block.type === 'tool_use') allowed++;
      content.push(block);
    } else {
      if (block.type === 'tool_use') denied++;
      content.push({ type: 'text', text: refusal });
    }
  }
  message.content = content;
  if (denied > 0 && allowed === 0 && message.stop_reason === 'tool_use')
    message.stop_reason = 'end_turn';
  return { allowed, denied };
}

interface HeldBlock {
  start: StreamData;
  events: SseEvent[];
  json: string;
}

class MessagesStream implements StreamRewriter {
  private readonly held = new Map<number, HeldBlock>();
  /** Each text field of a block (text, thinking) through its own redactor. */
  private readonly texts = new Map<number, Map<string, TextStream>>();
  private inputTokens = 0;
  private outputTokens: number | undefined;
  private allowedToolUse = 0;
  private deniedToolUse = 0;

  constructor(
    private readonly judge: ToolJudge,
    private readonly rail: TextRail,
  ) {}

  tokens() {
    return this.outputTokens === undefined ? undefined : this.inputTokens + this.outputTokens;
  }

  /** `text` pushed through the block's redactor for `field`. */
  private push(index: number, field: string, text: string): string {
    let fields = this.texts.get(index);
    if (!fields) this.texts.set(index, (fields = new Map()));
    let t = fields.get(field);
    if (!t) fields.set(field, (t = this.rail.stream()));
    return t.push(text);
  }

  async onEvent(e: SseEvent): Promise<SseEvent[]> {
    let data: StreamData;
    try {
      data = JSON.parse(e.data) as StreamData;
    } catch {
      return [{ ...e, data: this.rail.redact(e.data) }]; // not JSON: redacted as text
    }
    if (!data || typeof data !== 'object') return [e];
    const write = () => [{ event: e.event, data: JSON.stringify(data) }];
    const whole = () => (redactTree(data, this.rail) ? write() : [e]);
    const index = typeof data.index === 'number' ? data.index : undefined;
    switch (data.type) {
      case 'message_start':
        this.inputTokens = data.message?.usage?.input_tokens ?? 0;
        // The SDKs start their message from this one: blocks in it are decided like any other.
        if (data.message && Array.isArray(data.message.content) && data.message.content.length) {
          const { allowed, denied } = await decideContent(data.message, this.judge);
          this.allowedToolUse += allowed;
          this.deniedToolUse += denied;
          redactTree(data, this.rail);
          return write();
        }
        return whole();
      case 'content_block_start': {
        const block = data.content_block;
        if (!block || index === undefined) return whole();
        if (anthropicAction(block) !== undefined) {
          this.held.set(index, { start: data, events: [], json: '' });
          return [];
        }
        if (this.rail.idle) return [e];
        // Text a block starts with goes through the same redactor as its deltas.
        const pushed: Record<string, string> = {};
        for (const field of Object.values(TEXT_DELTAS)) {
          if (typeof block[field] !== 'string') continue;
          pushed[field] = this.push(index, field, block[field]);
          block[field] = ''; // the walk below skips it
        }
        redactTree(block, this.rail);
        Object.assign(block, pushed);
        return write();
      }
      case 'content_block_delta': {
        const h = index === undefined ? undefined : this.held.get(index);
        if (h) {
          h.events.push(e);
          h.json += typeof data.delta?.partial_json === 'string' ? data.delta.partial_json : '';
          return [];
        }
        const field = TEXT_DELTAS[String(data.delta?.type)];
        if (field && index !== undefined && typeof data.delta?.[field] === 'string') {
          if (this.rail.idle) return [e];
          const out = this.push(index, field, data.delta[field]);
          if (!out) return [];
          data.delta[field] = out;
          return write();
        }
        return whole(); // citations, signatures (kept as they are), anything else
      }
      case 'content_block_stop': {
        if (index === undefined) return whole();
        const h = this.held.get(index);
        if (h) return this.release(index, h, e);
        const fields = this.texts.get(index);
        this.texts.delete(index);
        const out: SseEvent[] = [];
        for (const [field, t] of fields ?? []) {
          const rest = t.end();
          if (!rest) continue;
          const delta = {
            type: 'content_block_delta',
            index,
            delta: { type: DELTA_OF[field], [field]: rest },
          };
          out.push({ event: 'content_block_delta', data: JSON.stringify(delta) });
        }
        out.push(e);
        return out;
      }
      case 'message_delta':
        if (data.usage?.output_tokens !== undefined) this.outputTokens = data.usage.output_tokens;
        if (
          data.delta?.stop_reason === 'tool_use' &&
          this.allowedToolUse === 0 &&
          this.deniedToolUse > 0
        ) {
          data.delta.stop_reason = 'end_turn';
          redactTree(data, this.rail);
          return write();
        }
        return whole();
      default:
        return whole(); // error events, pings, anything new: every string redacted
    }
  }

  /** A held block, complete: decided, then written (its input redacted) or replaced. */
  private async release(index: number, h: HeldBlock, stop: SseEvent): Promise<SseEvent[]> {
    this.held.delete(index);
    const block = h.start.content_block!;
    // The input arrives as input_json_delta parts; a server may also send it whole.
    const input = h.json ? parseArgs(h.json) : (block.input ?? {});
    const refusal = await verdict(this.judge, anthropicAction({ ...block, input })!, what(block));
    if (refusal === undefined) {
      this.allowedToolUse++;
      const startEvent = { event: 'content_block_start', data: JSON.stringify(h.start) };
      if (this.rail.idle) return [startEvent, ...h.events, stop];
      redactTree(h.start, this.rail);
      const out: SseEvent[] = [{ event: 'content_block_start', data: JSON.stringify(h.start) }];
      if (h.json)
        out.push({
          event: 'content_block_delta',
          data: JSON.stringify({
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: redactArgs(h.json, this.rail) },
          }),
        });
      out.push(stop);
      return out;
    }
    if (block.type === 'tool_use') this.deniedToolUse++;
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
          delta: { type: 'text_delta', text: refusal },
        }),
      },
      stop,
    ];
  }
}

export const anthropicMessages: Dialect = {
  summarize: (body) => requestSummary(body, 'messages'),
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    redactTree(body, rail);
    return body;
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Message;
    await decideContent(body, judge);
    redactTree(body, rail);
    return body.usage ? { body, tokens: sum(body.usage) } : { body };
  },
  streamRewriter: (judge, _request, rail) => new MessagesStream(judge, rail),
};
