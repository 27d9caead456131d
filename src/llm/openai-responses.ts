// OpenAI Responses (POST /v1/responses) and Embeddings (POST /v1/embeddings). A function_call
// output item is held from output_item.added to output_item.done, decided, and written as it
// came or replaced by an assistant message item carrying the refusal.

import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { parseArgs, refusalText, textOf } from './dialect.js';
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

class ResponsesStream implements StreamRewriter {
  private readonly held = new Map<string, SseEvent[]>();
  /** Denied function calls by item id: their refusal, to patch the final response object. */
  private readonly refused = new Map<string, Item>();
  private usage: number | undefined;

  constructor(private readonly judge: ToolJudge) {}

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
    };
    try {
      data = JSON.parse(e.data) as typeof data;
    } catch {
      return [e];
    }
    const itemId = data.item?.id ?? data.item_id;
    switch (data.type) {
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
        if (!r?.output || this.refused.size === 0) return [e];
        r.output = r.output.map((i) => (i.id && this.refused.get(i.id)) || i);
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
  async rewrite(raw, judge) {
    const body = raw as Response;
    if (body.output) body.output = await judgeOutput(body.output, judge);
    const tokens = body.usage?.total_tokens;
    return tokens === undefined ? { body } : { body, tokens };
  },
  streamRewriter: (judge) => new ResponsesStream(judge),
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
  async rewrite(raw) {
    const tokens = (raw as { usage?: { total_tokens?: number } }).usage?.total_tokens;
    return tokens === undefined ? { body: raw } : { body: raw, tokens };
  },
  streamRewriter() {
    throw new Error('embeddings do not stream');
  },
};
