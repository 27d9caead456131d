// OpenAI Chat Completions (POST /v1/chat/completions), plain and streamed. Tool calls the model
// proposes (`tool_calls` of type function or custom, the legacy `function_call`) are held until
// complete, decided, and either passed on or replaced by a refusal the agent reads as assistant
// text; a message field that is neither known text nor a known action is withheld. Every string
// of the answer is redacted (text-walk.ts); streamed text fields each have their own redactor.

import {
  CHAT_MESSAGE_KEYS,
  chatToolCall,
  unrecognizedText,
  verdict,
  type Proposed,
} from './actions.js';
import type { Dialect, StreamRewriter, ToolJudge } from './dialect.js';
import { requestSummary } from './dialect.js';
import type { TextRail, TextStream } from './rail.js';
import type { SseEvent } from './sse.js';
import { redactArgs, redactLogprobs, redactTree } from './text-walk.js';

type Obj = Record<string, unknown>;
interface ToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
  custom?: { name?: string; input?: string };
  [k: string]: unknown;
}
interface FunctionCall {
  name?: string;
  arguments?: string;
}
interface Choice {
  index: number;
  message?: Obj & { content?: unknown; tool_calls?: ToolCall[]; function_call?: FunctionCall };
  delta?: Obj & {
    tool_calls?: (ToolCall & { index: number })[];
    function_call?: FunctionCall;
  };
  logprobs?: { content?: unknown[] | null; refusal?: unknown[] | null } | null;
  finish_reason?: string | null;
  [k: string]: unknown;
}
interface Completion {
  choices?: Choice[];
  usage?: { total_tokens?: number } | null;
  [k: string]: unknown;
}

const isAction = (reason: string | null | undefined) =>
  reason === 'tool_calls' || reason === 'function_call';

/** A message's keys that are neither known text nor a known action, with a value. */
const unknownKeys = (m: Obj) =>
  Object.keys(m).filter(
    (k) => !CHAT_MESSAGE_KEYS.has(k) && m[k] !== null && typeof m[k] === 'object',
  );

/** A tool call as the agent gets it: its arguments (or custom input) redacted. */
function redactCall(c: ToolCall, rail: TextRail): ToolCall {
  if (c.function && typeof c.function.arguments === 'string')
    return { ...c, function: { ...c.function, arguments: redactArgs(c.function.arguments, rail) } };
  if (c.custom && typeof c.custom.input === 'string')
    return { ...c, custom: { ...c.custom, input: rail.redact(c.custom.input) } };
  return c;
}

const legacyCall = (f: FunctionCall): Proposed =>
  chatToolCall({ type: 'function', function: f }) as Proposed;

/** Decides a message's proposed calls; what is left, and the refusals the agent reads. */
async function judgeMessage(
  calls: ToolCall[],
  legacy: FunctionCall | undefined,
  unknown: string[],
  judge: ToolJudge,
): Promise<{ allowed: ToolCall[]; legacyAllowed: boolean; refusals: string[] }> {
  const allowed: ToolCall[] = [];
  const refusals: string[] = [];
  for (const c of calls) {
    const r = await verdict(judge, chatToolCall(c), `a tool call of type "${String(c.type)}"`);
    if (r === undefined) allowed.push(c);
    else refusals.push(r);
  }
  let legacyAllowed = false;
  if (legacy) {
    const r = await verdict(judge, legacyCall(legacy), 'a function_call');
    if (r === undefined) legacyAllowed = true;
    else refusals.push(r);
  }
  for (const k of unknown) refusals.push(unrecognizedText(`the message field "${k}"`));
  return { allowed, legacyAllowed, refusals };
}

/** What one choice of a stream holds back until it finishes. */
interface Held {
  calls: Map<number, ToolCall>;
  legacy?: { name: string; arguments: string };
  unknown: Set<string>;
  /** Each text field of the delta (content, refusal, reasoning…) through its own redactor. */
  texts: Map<string, TextStream>;
  logprobs: { content: unknown[]; refusal: unknown[] };
}

class ChatStream implements StreamRewriter {
  private readonly choices = new Map<number, Held>();
  private usage: number | undefined;

  constructor(
    private readonly judge: ToolJudge,
    private readonly clientWantsUsage: boolean,
    private readonly rail: TextRail,
  ) {}

  private held(choice: number): Held {
    let h = this.choices.get(choice);
    if (!h)
      this.choices.set(
        choice,
        (h = {
          calls: new Map(),
          unknown: new Set(),
          texts: new Map(),
          logprobs: { content: [], refusal: [] },
        }),
      );
    return h;
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
      return [{ ...e, data: this.rail.redact(e.data) }]; // not JSON: redacted as text
    }
    if (chunk.usage?.total_tokens !== undefined) this.usage = chunk.usage.total_tokens;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    if (choices.length === 0) {
      if (chunk.usage && !this.clientWantsUsage) return [];
      // An error or anything else outside a choice: every string redacted.
      return redactTree(chunk, this.rail) ? [{ ...e, data: JSON.stringify(chunk) }] : [e];
    }
    const out: SseEvent[] = [];
    const kept: Choice[] = [];
    for (const choice of choices) {
      const h = this.held(choice.index);
      const delta = (choice.delta ?? {}) as NonNullable<Choice['delta']>;
      this.holdActions(h, delta);
      this.streamTexts(h, delta);
      if (choice.logprobs && !this.rail.idle) {
        // Held to the end of the choice: a secret spans tokens of several chunks.
        h.logprobs.content.push(...(choice.logprobs.content ?? []));
        h.logprobs.refusal.push(...(choice.logprobs.refusal ?? []));
        choice.logprobs = null;
      }
      if (choice.finish_reason) {
        out.push(...(await this.release(chunk, choice, h)));
        kept.push(choice);
      } else if (Object.values(delta).some((v) => v !== undefined && v !== null)) {
        kept.push(choice);
      }
    }
    if (kept.length > 0) {
      // Released tool calls go before the chunk that finishes their choice.
      const { choices: _all, ...rest } = chunk;
      const next: Completion = { ...rest, choices: kept };
      if (next.usage && !this.clientWantsUsage) delete next.usage;
      out.push({ data: JSON.stringify(next) });
    } else if (chunk.usage && !this.clientWantsUsage) {
      const last = out[out.length - 1];
      if (last) {
        const parsed = JSON.parse(last.data) as Completion;
        delete parsed.usage;
        last.data = JSON.stringify(parsed);
      }
    }
    return out;
  }

  /** Takes the action parts out of a delta into the choice's held calls. */
  private holdActions(h: Held, delta: NonNullable<Choice['delta']>): void {
    if (Array.isArray(delta.tool_calls)) {
      for (const part of delta.tool_calls) {
        const c = h.calls.get(part.index) ?? {};
        if (part.id) c.id = part.id;
        if (part.type) c.type = part.type;
        for (const [k, v] of Object.entries(part)) {
          if (k === 'index' || k === 'id' || k === 'type' || !v || typeof v !== 'object') continue;
          // function {name, arguments} or custom {name, input}: string parts concatenate.
          const acc = ((c[k] as Obj | undefined) ?? {}) as Obj;
          for (const [f, s] of Object.entries(v as Obj))
            acc[f] = typeof s === 'string' ? `${(acc[f] as string | undefined) ?? ''}${s}` : s;
          c[k] = acc;
        }
        h.calls.set(part.index, c);
      }
      delete delta.tool_calls;
    }
    if (delta.function_call) {
      const l = (h.legacy ??= { name: '', arguments: '' });
      l.name += delta.function_call.name ?? '';
      l.arguments += delta.function_call.arguments ?? '';
      delete delta.function_call;
    }
    for (const k of unknownKeys(delta)) {
      h.unknown.add(k);
      delete delta[k];
    }
  }

  /** Each string field of the delta through its field's redactor; nested values whole. */
  private streamTexts(h: Held, delta: Obj): void {
    if (this.rail.idle) return;
    for (const k of Object.keys(delta)) {
      const v = delta[k];
      if (k === 'role') continue;
      if (typeof v === 'string') {
        if (v === '') continue;
        let t = h.texts.get(k);
        if (!t) h.texts.set(k, (t = this.rail.stream()));
        // Released as far as no later delta can complete a secret; the rest is held.
        const released = t.push(v);
        if (released) delta[k] = released;
        else delete delta[k];
      } else if (v && typeof v === 'object') {
        redactTree(v, this.rail, false);
      }
    }
  }

  /** The choice's held text and logprobs, then its held calls: decided, written whole. */
  private async release(chunk: Completion, choice: Choice, h: Held): Promise<SseEvent[]> {
    this.choices.delete(choice.index);
    const { choices: _c, usage: _u, ...base } = chunk;
    const event = (delta: Obj, extra: Obj = {}): SseEvent => ({
      data: JSON.stringify({
        ...base,
        choices: [{ index: choice.index, delta, finish_reason: null, ...extra }],
      }),
    });
    const events: SseEvent[] = [];
    const rest: Obj = {};
    for (const [k, t] of h.texts) {
      const tail = t.end();
      if (tail) rest[k] = tail;
    }
    if (Object.keys(rest).length > 0) events.push(event(rest));
    if (h.logprobs.content.length > 0 || h.logprobs.refusal.length > 0) {
      const logprobs = {
        content: h.logprobs.content.length > 0 ? h.logprobs.content : null,
        refusal: h.logprobs.refusal.length > 0 ? h.logprobs.refusal : null,
      };
      redactLogprobs(logprobs, this.rail);
      events.push(event({}, { logprobs }));
    }
    const ordered = [...h.calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    const legacy = h.legacy;
    const { allowed, legacyAllowed, refusals } = await judgeMessage(
      ordered,
      legacy,
      [...h.unknown],
      this.judge,
    );
    allowed.forEach((c, i) => {
      const { id, type, ...parts } = redactCall(c, this.rail);
      events.push(event({ tool_calls: [{ index: i, id, type: type ?? 'function', ...parts }] }));
    });
    if (legacy && legacyAllowed)
      events.push(
        event({
          function_call: { name: legacy.name, arguments: redactArgs(legacy.arguments, this.rail) },
        }),
      );
    if (refusals.length > 0) events.push(event({ content: refusals.join('\n') }));
    if (allowed.length === 0 && !legacyAllowed && isAction(choice.finish_reason))
      choice.finish_reason = 'stop';
    return events;
  }
}

export const openaiChat: Dialect = {
  summarize: (body) => requestSummary(body, 'messages'),
  upstreamBody(body, model) {
    const out: Record<string, unknown> = { ...body, model };
    // Usage is what budgets count: ask for it on streams too (dropped again if not wanted).
    if (body.stream === true)
      out.stream_options = { ...(body.stream_options as object), include_usage: true };
    return out;
  },
  redactRequest(body, rail) {
    redactTree(body, rail);
    return body;
  },
  async rewrite(raw, judge, rail) {
    const body = raw as Completion;
    const refused = new Map<Choice, string[]>();
    for (const choice of Array.isArray(body.choices) ? body.choices : []) {
      const msg = choice.message;
      if (!msg || typeof msg !== 'object') continue;
      const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls : [];
      const unknown = unknownKeys(msg);
      const { allowed, legacyAllowed, refusals } = await judgeMessage(
        calls,
        msg.function_call ?? undefined,
        unknown,
        judge,
      );
      if (allowed.length > 0) msg.tool_calls = allowed;
      else delete msg.tool_calls;
      if (!legacyAllowed) delete msg.function_call;
      for (const k of unknown) delete msg[k];
      if (refusals.length > 0) refused.set(choice, refusals);
      if (allowed.length === 0 && !legacyAllowed && isAction(choice.finish_reason))
        choice.finish_reason = 'stop';
    }
    redactTree(body, rail);
    for (const [choice, refusals] of refused) {
      const msg = choice.message!;
      msg.content = [msg.content, ...refusals].filter((x) => typeof x === 'string' && x).join('\n');
    }
    const tokens = body.usage?.total_tokens;
    return tokens === undefined ? { body } : { body, tokens };
  },
  streamRewriter(judge, request, rail) {
    const opts = request.stream_options as { include_usage?: boolean } | undefined;
    return new ChatStream(judge, opts?.include_usage === true, rail);
  },
};
