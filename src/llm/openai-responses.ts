// OpenAI Responses (POST /v1/responses) and Embeddings (POST /v1/embeddings). A function_call
// output item is held from output_item.added to output_item.done, decided, and written as it
// came or replaced by an assistant message item carrying the refusal.

import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { parseArgs, redactContent, refusalText, textOf } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';

interface Item {
  id?: string;
  type?: string;
  name?: string;
  arguments?: string;
  [k: string]: unknown;
}
interface Response {
  output?: Item[];
  usage?: { total_tokens?: number };
  [k: string]: unknown;
}

const refusalItem = (id: string | undefined, text: string): Item => ({
  id: id ?? 'msg_cordon',
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text, annotations: [] }],
});

function inputText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  return (input as Record<string, unknown>[])
    .map((i) => (i?.type === 'function_call_output' ? String(i.output ?? '') : textOf(i?.content)))
    .filter(Boolean)
    .join('\n');
}

/** An output item with its text redacted (assistant messages). */
function redactItem(item: Item, rail: TextRail): Item {
  if (item.type !== 'message' || !Array.isArray(item.content)) return item;
  return { ...item, content: redactContent(item.content, rail) };
}

class ResponsesStream implements StreamRewriter {
  private readonly held = new Map<string, SseEvent[]>();
  /** The text of each output item, through its own redactor. */
  private readonly texts = new Map<string, TextStream>();
  /** Denied function calls by item id: their refusal, to patch the final response object. */
  private readonly refused = new Map<string, Item>();
  private usage: number | undefined;

  constructor(
    private readonly judge: ToolJudge,
    private readonly rail: TextRail,
  ) {}

  tokens() {
    return this.usage;
  }

  async onEvent(e: SseEvent): Promise<SseEvent[]> {
    let data: {
      type?: string;
      item?: Item;
      item_id?: string;
      output_index?: number;
      response?: Response;
      delta?: string;
      text?: string;
    };
    try {
      data = JSON.parse(e.data) as typeof data;
    } catch {
      return [e];
    }
    const itemId = data.item?.id ?? data.item_id;
    const rewrite = () => [{ event: e.event, data: JSON.stringify(data) }];
    switch (data.type) {
      case 'response.output_text.delta': {
        if (!itemId || typeof data.delta !== 'string') return [e];
        let t = this.texts.get(itemId);
        if (!t) this.texts.set(itemId, (t = this.rail.stream()));
        data.delta = t.push(data.delta);
        return data.delta ? rewrite() : [];
      }
      case 'response.output_text.done': {
        const rest = itemId ? this.texts.get(itemId)?.end() : undefined;
        if (itemId) this.texts.delete(itemId);
        if (typeof data.text === 'string') data.text = this.rail.redact(data.text);
        const done = rewrite();
        if (!rest) return done;
        const tail = { ...data, type: 'response.output_text.delta', delta: rest, text: undefined };
        return [{ event: 'response.output_text.delta', data: JSON.stringify(tail) }, ...done];
      }
      case 'response.output_item.added':
        if (data.item?.type === 'function_call' && itemId) {
          this.held.set(itemId, [e]);
          return [];
        }
        return [e];
      case 'response.function_call_arguments.delta':
      case 'response.function_call_arguments.done':
        if (itemId && this.held.has(itemId)) {
          this.held.get(itemId)!.push(e);
          return [];
        }
        return [e];
      case 'response.output_item.done': {
        if (data.item?.type === 'message') {
          data.item = redactItem(data.item, this.rail);
          return rewrite();
        }
        if (data.item?.type !== 'function_call' || !itemId || !this.held.has(itemId)) return [e];
        const held = this.held.get(itemId)!;
        this.held.delete(itemId);
        const name = data.item.name ?? '';
        const d = await this.judge(name, parseArgs(data.item.arguments ?? ''));
        if (d.decision === 'allow') return [...held, e];
        const item = refusalItem(itemId, refusalText(name, d));
        this.refused.set(itemId, item);
        const at = { output_index: data.output_index };
        return [
          {
            event: 'response.output_item.added',
            data: JSON.stringify({ ...data, type: 'response.output_item.added', ...at, item }),
          },
          { event: 'response.output_item.done', data: JSON.stringify({ ...data, ...at, item }) },
        ];
      }
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const r = data.response;
        if (r?.usage?.total_tokens !== undefined) this.usage = r.usage.total_tokens;
        if (!r?.output) return [e];
        r.output = r.output.map(
          (i) => (i.id && this.refused.get(i.id)) || redactItem(i, this.rail),
        );
        return [{ event: e.event, data: JSON.stringify(data) }];
      }
      default:
        return [e];
    }
  }
}

async function judgeOutput(output: Item[], judge: ToolJudge): Promise<Item[]> {
  const out: Item[] = [];
  for (const item of output) {
    if (item.type !== 'function_call') {
      out.push(item);
      continue;
    }
    const d = await judge(item.name ?? '', parseArgs(item.arguments ?? ''));
    out.push(d.decision === 'allow' ? item : refusalItem(item.id, refusalText(item.name ?? '', d)));
  }
  return out;
}

export const openaiResponses: Dialect = {
  summarize(body) {
    const tools = Array.isArray(body.tools) ? (body.tools as { name?: string }[]) : [];
    return {
      model: String(body.model ?? ''),
      stream: body.stream === true,
      text: [typeof body.instructions === 'string' ? body.instructions : '', inputText(body.input)]
        .filter(Boolean)
        .join('\n'),
      tools: tools.map((t) => t.name ?? '').filter(Boolean),
    };
  },
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    if (rail.idle) return body;
    // Input items are parts to redactContent: their content, or a tool output string.
    return {
      ...body,
      instructions: redactContent(body.instructions, rail),
      input: redactContent(body.input, rail),
    };
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Response;
    if (body.output)
      body.output = (await judgeOutput(body.output, judge)).map((i) => redactItem(i, rail));
    const tokens = body.usage?.total_tokens;
    return tokens === undefined ? { body } : { body, tokens };
  },
  streamRewriter: (judge, _request, rail) => new ResponsesStream(judge, rail),
};

export const openaiEmbeddings: Dialect = {
  summarize(body) {
    const input = body.input;
    const text =
      typeof input === 'string'
        ? input
        : Array.isArray(input)
          ? input.filter((x) => typeof x === 'string').join('\n')
          : '';
    return { model: String(body.model ?? ''), stream: false, text, tools: [] };
  },
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    if (rail.idle) return body;
    const input = body.input;
    if (typeof input === 'string') return { ...body, input: rail.redact(input) };
    if (Array.isArray(input))
      return { ...body, input: input.map((x) => (typeof x === 'string' ? rail.redact(x) : x)) };
    return body;
  },
  async rewrite(raw) {
    const tokens = (raw as { usage?: { total_tokens?: number } }).usage?.total_tokens;
    return tokens === undefined ? { body: raw } : { body: raw, tokens };
  },
  streamRewriter() {
    throw new Error('embeddings do not stream');
  },
};
