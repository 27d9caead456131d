// OpenAI Responses (POST /v1/responses) and Embeddings (POST /v1/embeddings). Every output item
// that proposes an action (function, custom, computer, shell, MCP… calls; actions.ts) is held,
// in a stream from its output_item.added to its output_item.done, decided, and written as it
// came (its arguments redacted) or replaced by an assistant message item carrying the refusal;
// an item type Cordon does not know is refused. Every string of the rest is redacted: streamed
// `*.delta` text through one redactor per item and part, each `*.done` text whole.

import { RequestError } from '../../core/request.js';
import { responsesAction, verdict } from './actions.js';
import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { requestSummary } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';
import { redactArgs, redactTree } from './text-walk.js';

type Item = Record<string, unknown> & { id?: string; type?: string };
interface Response {
  output?: Item[];
  usage?: { total_tokens?: number };
  [k: string]: unknown;
}
interface StreamData {
  type?: string;
  item?: Item;
  item_id?: string;
  output_index?: number;
  content_index?: number;
  summary_index?: number;
  response?: Response;
  delta?: unknown;
  logprobs?: unknown;
  [k: string]: unknown;
}

const refusalItem = (id: string | undefined, text: string): Item => ({
  id: id ?? 'msg_cordon',
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text, annotations: [] }],
});

const what = (item: Item) => `an output item of type "${String(item.type)}"`;

/** The item as the agent may see it: itself when allowed, else the refusal in its place. */
async function decideItem(item: Item, judge: ToolJudge): Promise<Item> {
  const action = responsesAction(item);
  if (action === undefined) return item;
  const refusal = await verdict(judge, action, what(item));
  return refusal === undefined ? item : refusalItem(item.id, refusal);
}

/** Streamed arguments are JSON: their redaction keeps them JSON. */
const ARGS_DELTAS = new Set([
  'response.function_call_arguments.delta',
  'response.mcp_call_arguments.delta',
]);

interface HeldItem {
  events: { event: string | undefined; data: StreamData }[];
}

class ResponsesStream implements StreamRewriter {
  /** Action items being streamed, by item id; their output index points to them too. */
  private readonly held = new Map<string, HeldItem>();
  private readonly heldAt = new Map<number, string>();
  /** Action items decided, by id: undefined when allowed, else the refusal in its place. */
  private readonly decided = new Map<string, Item | undefined>();
  /** Each streamed text (`<type>|item|part`) through its own redactor, and its last delta. */
  private readonly texts = new Map<string, { stream: TextStream; last: StreamData }>();
  private usage: number | undefined;

  constructor(
    private readonly judge: ToolJudge,
    private readonly rail: TextRail,
  ) {}

  tokens() {
    return this.usage;
  }

  async onEvent(e: SseEvent): Promise<SseEvent[]> {
    let data: StreamData;
    try {
      data = JSON.parse(e.data) as StreamData;
    } catch {
      return [{ ...e, data: this.rail.redact(e.data) }]; // not JSON: redacted as text
    }
    if (!data || typeof data !== 'object') return [e];
    const type = String(data.type);
    const itemId =
      (typeof data.item?.id === 'string' ? data.item.id : undefined) ??
      data.item_id ??
      (data.output_index !== undefined ? this.heldAt.get(data.output_index) : undefined);
    const write = (d: StreamData) => ({ event: e.event, data: JSON.stringify(d) });

    if (type === 'response.output_item.added' && data.item) {
      if (responsesAction(data.item) !== undefined && itemId) {
        this.held.set(itemId, { events: [{ event: e.event, data }] });
        if (data.output_index !== undefined) this.heldAt.set(data.output_index, itemId);
        return [];
      }
    }
    if (itemId && this.held.has(itemId)) {
      if (type !== 'response.output_item.done') {
        this.held.get(itemId)!.events.push({ event: e.event, data });
        return [];
      }
      return this.releaseItem(itemId, data, e.event);
    }
    const out: SseEvent[] = [];
    if (type.endsWith('.delta') && typeof data.delta === 'string' && !this.rail.idle) {
      const key = this.textKey(type.slice(0, -'.delta'.length), data);
      let t = this.texts.get(key);
      if (!t) this.texts.set(key, (t = { stream: this.rail.stream(), last: data }));
      t.last = data;
      const delta = data.delta;
      data.delta = '';
      // Logprobs come whole, redacted, with the text's .done event and the finished item.
      if (Array.isArray(data.logprobs)) data.logprobs = [];
      redactTree(data, this.rail);
      data.delta = t.stream.push(delta);
      return data.delta ? [write(data)] : [];
    }
    if (type.endsWith('.done'))
      out.push(...this.flush(this.textKey(type.slice(0, -'.done'.length), data)));
    if (type === 'response.output_item.done' && itemId) out.push(...this.flushItem(itemId));
    if (
      type === 'response.completed' ||
      type === 'response.incomplete' ||
      type === 'response.failed'
    ) {
      const r = data.response;
      if (r?.usage?.total_tokens !== undefined) this.usage = r.usage.total_tokens;
      for (const key of [...this.texts.keys()]) out.push(...this.flush(key));
    }
    if (Array.isArray(data.response?.output)) await this.patchOutput(data.response.output);
    out.push(redactTree(data, this.rail) || data.response?.output ? write(data) : e);
    return out;
  }

  /** The key of a streamed text: its event type's stem, item, and part. */
  private textKey(stem: string, d: StreamData): string {
    return `${stem}|${d.item_id ?? ''}|${d.output_index ?? ''}|${d.content_index ?? ''}|${d.summary_index ?? ''}`;
  }

  /** The held tail of one streamed text, as one more delta event. */
  private flush(key: string): SseEvent[] {
    const t = this.texts.get(key);
    if (!t) return [];
    this.texts.delete(key);
    const rest = t.stream.end();
    if (!rest) return [];
    const stem = key.slice(0, key.indexOf('|'));
    const type = `${stem}.delta`;
    return [{ event: type, data: JSON.stringify({ ...t.last, type, delta: rest }) }];
  }

  private flushItem(itemId: string): SseEvent[] {
    const out: SseEvent[] = [];
    for (const key of [...this.texts.keys()])
      if (key.split('|')[1] === itemId) out.push(...this.flush(key));
    return out;
  }

  /** A held action item, complete: decided, then written (redacted) or replaced. */
  private async releaseItem(
    itemId: string,
    done: StreamData,
    event: string | undefined,
  ): Promise<SseEvent[]> {
    const held = this.held.get(itemId)!;
    this.held.delete(itemId);
    if (done.output_index !== undefined) this.heldAt.delete(done.output_index);
    const item = await decideItem(done.item!, this.judge);
    this.decided.set(itemId, item === done.item ? undefined : item);
    const write = (ev: string | undefined, d: StreamData) => ({
      event: ev,
      data: JSON.stringify(d),
    });
    if (item !== done.item) {
      const at = { output_index: done.output_index };
      return [
        write('response.output_item.added', {
          ...done,
          type: 'response.output_item.added',
          ...at,
          item,
        }),
        write(event, { ...done, ...at, item }),
      ];
    }
    if (this.rail.idle)
      return [...held.events.map((h) => write(h.event, h.data)), write(event, done)];
    // Allowed: each streamed part (arguments, input, code) is written once, whole and redacted.
    const out: SseEvent[] = [];
    const deltas = new Map<string, { event: string | undefined; data: StreamData; text: string }>();
    for (const h of held.events) {
      const type = String(h.data.type);
      if (type.endsWith('.delta') && typeof h.data.delta === 'string') {
        const d = deltas.get(type);
        if (d) d.text += h.data.delta;
        else deltas.set(type, { ...h, text: h.data.delta });
        continue;
      }
      for (const [type, d] of deltas) {
        const text = ARGS_DELTAS.has(type)
          ? redactArgs(d.text, this.rail)
          : this.rail.redact(d.text);
        out.push(write(d.event, { ...d.data, delta: text }));
      }
      deltas.clear();
      redactTree(h.data, this.rail);
      out.push(write(h.event, h.data));
    }
    for (const [type, d] of deltas) {
      const text = ARGS_DELTAS.has(type) ? redactArgs(d.text, this.rail) : this.rail.redact(d.text);
      out.push(write(d.event, { ...d.data, delta: text }));
    }
    redactTree(done, this.rail);
    out.push(write(event, done));
    return out;
  }

  /** The final response's items as decided in the stream; one never streamed is decided now. */
  private async patchOutput(output: Item[]): Promise<void> {
    for (let i = 0; i < output.length; i++) {
      const item = output[i]!;
      if (!item || typeof item !== 'object' || responsesAction(item) === undefined) continue;
      const id = typeof item.id === 'string' ? item.id : undefined;
      if (id && this.decided.has(id)) {
        output[i] = this.decided.get(id) ?? item; // allowed: this, its final form
        continue;
      }
      const decided = await decideItem(item, this.judge);
      if (id) this.decided.set(id, decided === item ? undefined : decided);
      output[i] = decided;
    }
  }
}

export const openaiResponses: Dialect = {
  summarize(body) {
    if (
      body.input !== undefined &&
      body.input !== null &&
      typeof body.input !== 'string' &&
      !Array.isArray(body.input)
    )
      throw new RequestError('"input" must be a string or an array');
    return requestSummary(body);
  },
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    redactTree(body, rail);
    return body;
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Response;
    if (Array.isArray(body.output)) {
      const out: Item[] = [];
      for (const item of body.output)
        out.push(item && typeof item === 'object' ? await decideItem(item, judge) : item);
      body.output = out;
    }
    redactTree(body, rail);
    const tokens = body.usage?.total_tokens;
    return tokens === undefined ? { body } : { body, tokens };
  },
  streamRewriter: (judge, _request, rail) => new ResponsesStream(judge, rail),
};

export const openaiEmbeddings: Dialect = {
  summarize: (body) => requestSummary(body),
  upstreamBody: (body, model) => ({ ...body, model }),
  redactRequest(body, rail) {
    redactTree(body, rail);
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
