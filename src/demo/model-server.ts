// A local model provider for `cordon demo`, tests and benches, speaking the real OpenAI (chat
// completions, responses, embeddings, models) and Anthropic (messages) wire formats, streamed or
// not. The
// last user message scripts it: `[tool:NAME:{"json":"args"}]` proposes a tool call (`$LEAK` in
// its arguments becomes an AWS access key), `[legacy:NAME:{…}]` a legacy chat `function_call`,
// `[custom:NAME:text]` a chat custom tool call,
// `[item:TYPE]` a Responses output item of that type (local_shell_call, computer_call,
// custom_tool_call, or any unknown type), `[block:TYPE]` an Anthropic content block of an
// unknown type; `[early]` streams Anthropic blocks whole inside message_start. `[drop]` cuts a
// stream midway, `[stall]` goes silent, `[stall-body]` sends an error's headers and half its
// body, then goes silent. `[leak]` answers with an AWS access key (split across stream
// events); `[leak-refusal]` puts it in a refusal, `[leak-reasoning]` in reasoning (and an
// Anthropic text block's start), `[leak-logprobs]` also in the logprobs tokens, `[leak-error]`
// in a 400 error body; anything else is echoed back. A conversation that ends in tool results
// (chat `tool` messages, Responses `function_call_output` items, Anthropic `tool_result`
// blocks) is answered with their text, `tool results: A | B`, so an agent loop ends after one
// round and a test can read what the model was shown.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface SeenRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export interface FakeProvider {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

interface Script {
  text: string;
  /** The answer's text. */
  reply: string;
  tools: { name: string; args: string }[];
  legacy: { name: string; args: string } | undefined;
  custom: { name: string; input: string }[];
  items: string[];
  blocks: string[];
  drop: boolean;
  stall: boolean;
  stallBody: boolean;
  leakRefusal: boolean;
  leakReasoning: boolean;
  leakLogprobs: boolean;
  leakError: boolean;
  early: boolean;
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages ?? body.input) as unknown;
  if (typeof messages === 'string') return messages;
  if (!Array.isArray(messages)) return '';
  const users = (messages as { role?: string; content?: unknown }[]).filter(
    (m) => m.role === 'user',
  );
  const c = users[users.length - 1]?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return (c as { text?: string }[]).map((p) => p.text ?? '').join('');
  return '';
}

const textOf = (c: unknown): string =>
  typeof c === 'string'
    ? c
    : Array.isArray(c)
      ? (c as { text?: unknown; content?: unknown }[])
          .map((p) => (typeof p.text === 'string' ? p.text : textOf(p.content)))
          .join('')
      : '';

/** The tool results the conversation ends with, in order; none when it ends otherwise. */
function trailingToolResults(body: Record<string, unknown>): string[] {
  const items = (body.messages ?? body.input) as unknown;
  if (!Array.isArray(items)) return [];
  const out: string[] = [];
  for (const m of [...(items as Record<string, unknown>[])].reverse()) {
    if (m.role === 'tool') out.unshift(textOf(m.content));
    else if (m.type === 'function_call_output') out.unshift(textOf(m.output));
    else if (m.role === 'user' && Array.isArray(m.content)) {
      const results = (m.content as Record<string, unknown>[]).filter(
        (b) => b.type === 'tool_result',
      );
      if (results.length === 0) break;
      out.unshift(...results.map((b) => textOf(b.content)));
      break;
    } else break;
  }
  return out;
}

function scriptOf(body: Record<string, unknown>): Script {
  const results = trailingToolResults(body);
  if (results.length > 0)
    return { ...scriptOfText(''), reply: `tool results: ${results.join(' | ')}` };
  return scriptOfText(lastUserText(body));
}

function scriptOfText(text: string): Script {
  const withLeak = (args: string) => args.replaceAll('$LEAK', LEAKED_KEY);
  const tools = [...text.matchAll(/\[tool:([\w.-]+):(\{.*?\})\]/g)].map((m) => ({
    name: m[1]!,
    args: withLeak(m[2]!),
  }));
  const legacy = /\[legacy:([\w.-]+):(\{.*?\})\]/.exec(text);
  const leaks = /\[leak(-[a-z]+)?\]/.test(text);
  const reply = leaks ? `the key is ${LEAKED_KEY} keep it safe` : `echo: ${text}`;
  return {
    text,
    reply,
    tools,
    legacy: legacy ? { name: legacy[1]!, args: withLeak(legacy[2]!) } : undefined,
    custom: [...text.matchAll(/\[custom:([\w.-]+):([^\]]*)\]/g)].map((m) => ({
      name: m[1]!,
      input: m[2]!,
    })),
    items: [...text.matchAll(/\[item:([\w.-]+)\]/g)].map((m) => m[1]!),
    blocks: [...text.matchAll(/\[block:([\w.-]+)\]/g)].map((m) => m[1]!),
    drop: text.includes('[drop]'),
    stall: text.includes('[stall]'),
    stallBody: text.includes('[stall-body]'),
    leakRefusal: text.includes('[leak-refusal]'),
    leakReasoning: text.includes('[leak-reasoning]'),
    leakLogprobs: text.includes('[leak-logprobs]'),
    leakError: text.includes('[leak-error]'),
    early: text.includes('[early]'),
  };
}

const pieces = (s: string) => {
  const third = Math.max(1, Math.ceil(s.length / 3));
  return [s.slice(0, third), s.slice(third, 2 * third), s.slice(2 * third)].filter(Boolean);
};

const TOKENS = { input: 11, output: 7 };

/** A fresh id per answer: agent frameworks key messages by id (LangGraph merges equal ones). */
let answers = 0;
const answerId = (prefix: string) => `${prefix}${++answers}`;

/**
 * What `[leak]` answers with: a well-formed AWS access key id (not a documentation example),
 * derived at run time so that no key-shaped string is written in the repository, the same in
 * every process (a test and the provider it starts agree on it), and with no test fixture
 * needed (this module ships for `cordon demo`).
 */
export const LEAKED_KEY =
  'AK' +
  'IA' +
  [...createHash('sha256').update('cordon demo leaked key').digest().subarray(0, 16)]
    .map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32])
    .join('');

/** Cuts the connection once what was written has gone out: a stream dropped midway. */
const dropSoon = (res: ServerResponse) => setTimeout(() => res.socket?.destroy(), 30);

function sse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return (data: unknown, event?: string) =>
    res.write(
      `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
    );
}

/** Logprob entries for a text, in tokens of three characters. */
const logprobsOf = (text: string) =>
  (text.match(/[\s\S]{1,3}/g) ?? []).map((token) => ({
    token,
    logprob: -0.5,
    bytes: [...Buffer.from(token)],
    top_logprobs: [{ token, logprob: -0.5, bytes: [...Buffer.from(token)] }],
  }));

function openaiChat(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const base = { id: answerId('chatcmpl-'), created: 1_700_000_000, model: String(body.model) };
  const reply = s.reply;
  const usage = {
    prompt_tokens: TOKENS.input,
    completion_tokens: TOKENS.output,
    total_tokens: TOKENS.input + TOKENS.output,
  };
  const toolCalls: { id: string; type: string; [k: string]: unknown }[] = [
    ...s.tools.map((t, i) => ({
      id: `call_${i}`,
      type: 'function',
      function: { name: t.name, arguments: t.args },
    })),
    ...s.custom.map((c, i) => ({
      id: `call_c${i}`,
      type: 'custom',
      custom: { name: c.name, input: c.input },
    })),
  ];
  const acting = toolCalls.length > 0 || s.legacy !== undefined;
  const finish = toolCalls.length ? 'tool_calls' : s.legacy ? 'function_call' : 'stop';
  // The answer's text goes in `refusal` for [leak-refusal], else in `content`.
  const textField = s.leakRefusal ? 'refusal' : 'content';
  const reasoning = s.leakReasoning ? `thinking about ${LEAKED_KEY}` : undefined;
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: acting || s.leakRefusal ? null : reply,
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
              ...(s.legacy
                ? { function_call: { name: s.legacy.name, arguments: s.legacy.args } }
                : {}),
              ...(reasoning ? { reasoning_content: reasoning } : {}),
              refusal: s.leakRefusal ? reply : null,
            },
            finish_reason: finish,
            logprobs: s.leakLogprobs ? { content: logprobsOf(reply), refusal: null } : null,
          },
        ],
        usage,
      }),
    );
    return;
  }
  const send = sse(res);
  const chunk = (delta: unknown, finishReason: string | null = null, logprobs: unknown = null) =>
    send({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs }],
    });
  chunk({ role: 'assistant', content: '' });
  if (s.stall) return; // headers and one event, then silence
  if (reasoning) for (const part of pieces(reasoning)) chunk({ reasoning_content: part });
  if (acting) {
    toolCalls.forEach((c, i) => {
      // function {name, arguments} or custom {name, input}: the name first, the rest in pieces.
      const body = (c.function ?? c.custom) as { name: string; arguments?: string; input?: string };
      const field = c.type === 'custom' ? 'input' : 'arguments';
      chunk({
        tool_calls: [
          { index: i, id: c.id, type: c.type, [c.type]: { name: body.name, [field]: '' } },
        ],
      });
      for (const part of pieces(body[field] ?? ''))
        chunk({ tool_calls: [{ index: i, [c.type]: { [field]: part } }] });
    });
    if (s.legacy) {
      chunk({ function_call: { name: s.legacy.name, arguments: '' } });
      for (const part of pieces(s.legacy.args)) chunk({ function_call: { arguments: part } });
    }
  } else {
    const parts = pieces(reply);
    for (const [i, part] of parts.entries()) {
      chunk(
        { [textField]: part },
        null,
        s.leakLogprobs ? { content: logprobsOf(part), refusal: null } : null,
      );
      if (s.drop && i === 0) {
        dropSoon(res);
        return;
      }
    }
  }
  chunk({}, finish);
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage)
    send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  send('[DONE]');
  res.end();
}

/** A canned Responses output item of `type` (an unknown type carries a shell command). */
function responsesItem(type: string, i: number): Record<string, unknown> {
  const id = `it_${i}`;
  const call_id = `call_${i}`;
  switch (type) {
    case 'local_shell_call':
      return {
        id,
        type,
        call_id,
        status: 'completed',
        action: { type: 'exec', command: ['rm', '-rf', '/srv/payroll'], env: {} },
      };
    case 'computer_call':
      return {
        id,
        type,
        call_id,
        status: 'completed',
        action: { type: 'click', button: 'left', x: 10, y: 20 },
        pending_safety_checks: [],
      };
    case 'custom_tool_call':
      return {
        id,
        type,
        call_id,
        status: 'completed',
        name: 'run_sql',
        input: 'DROP TABLE payroll',
      };
    default:
      return { id, type, call_id, status: 'completed', command: 'rm -rf /srv/payroll' };
  }
}

function openaiResponses(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const logprobs = s.leakLogprobs ? logprobsOf(s.reply) : [];
  const part = s.leakRefusal
    ? { type: 'refusal', refusal: s.reply }
    : { type: 'output_text', text: s.reply, annotations: [], logprobs };
  const reasoning = s.leakReasoning ? `thinking about ${LEAKED_KEY}` : undefined;
  const actions: Record<string, unknown>[] = [
    ...s.tools.map((t, i) => ({
      id: `fc_${i}`,
      type: 'function_call',
      status: 'completed',
      call_id: `call_${i}`,
      name: t.name,
      arguments: t.args,
    })),
    ...s.items.map((type, i) => responsesItem(type, i)),
  ];
  const output: Record<string, unknown>[] = actions.length
    ? actions
    : [
        ...(reasoning
          ? [
              {
                id: 'rs_0',
                type: 'reasoning',
                summary: [{ type: 'summary_text', text: reasoning }],
                content: [{ type: 'reasoning_text', text: reasoning }],
              },
            ]
          : []),
        {
          id: 'msg_0',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [part],
        },
      ];
  const response = {
    id: answerId('resp_'),
    object: 'response',
    created_at: 1_700_000_000,
    status: 'completed',
    model: String(body.model),
    output,
    usage: {
      input_tokens: TOKENS.input,
      output_tokens: TOKENS.output,
      total_tokens: TOKENS.input + TOKENS.output,
    },
  };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response));
    return;
  }
  const send = sse(res);
  let seq = 0;
  const ev = (type: string, data: object) => send({ type, sequence_number: seq++, ...data }, type);
  ev('response.created', { response: { ...response, status: 'in_progress', output: [] } });
  output.forEach((item, i) => {
    const at = { item_id: item.id, output_index: i };
    if (item.type === 'function_call') {
      ev('response.output_item.added', { output_index: i, item: { ...item, arguments: '' } });
      const args = item.arguments as string;
      for (const p of pieces(args))
        ev('response.function_call_arguments.delta', { ...at, delta: p });
      ev('response.function_call_arguments.done', { ...at, arguments: args });
    } else if (item.type === 'custom_tool_call') {
      ev('response.output_item.added', { output_index: i, item: { ...item, input: '' } });
      const input = item.input as string;
      for (const p of pieces(input))
        ev('response.custom_tool_call_input.delta', { ...at, delta: p });
      ev('response.custom_tool_call_input.done', { ...at, input });
    } else if (item.type === 'reasoning') {
      ev('response.output_item.added', {
        output_index: i,
        item: { ...item, summary: [], content: [] },
      });
      const sum = { ...at, summary_index: 0 };
      ev('response.reasoning_summary_part.added', {
        ...sum,
        part: { type: 'summary_text', text: '' },
      });
      for (const p of pieces(reasoning!))
        ev('response.reasoning_summary_text.delta', { ...sum, delta: p });
      ev('response.reasoning_summary_text.done', { ...sum, text: reasoning });
      ev('response.reasoning_summary_part.done', {
        ...sum,
        part: { type: 'summary_text', text: reasoning },
      });
      for (const p of pieces(reasoning!))
        ev('response.reasoning_text.delta', { ...at, content_index: 0, delta: p });
      ev('response.reasoning_text.done', { ...at, content_index: 0, text: reasoning });
    } else if (item.type === 'message') {
      ev('response.output_item.added', { output_index: i, item: { ...item, content: [] } });
      const c = { ...at, content_index: 0 };
      const empty = s.leakRefusal
        ? { type: 'refusal', refusal: '' }
        : { ...part, text: '', logprobs: [] };
      ev('response.content_part.added', { ...c, part: empty });
      for (const p of pieces(s.reply)) {
        if (s.leakRefusal) ev('response.refusal.delta', { ...c, delta: p });
        else
          ev('response.output_text.delta', {
            ...c,
            delta: p,
            logprobs: s.leakLogprobs ? logprobsOf(p) : [],
          });
      }
      if (s.leakRefusal) ev('response.refusal.done', { ...c, refusal: s.reply });
      else ev('response.output_text.done', { ...c, text: s.reply, logprobs });
      ev('response.content_part.done', { ...c, part });
    } else {
      ev('response.output_item.added', { output_index: i, item });
    }
    ev('response.output_item.done', { output_index: i, item });
  });
  ev('response.completed', { response });
  res.end();
}

function anthropicMessages(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const reply = s.reply;
  const reasoning = s.leakReasoning ? `thinking about ${LEAKED_KEY}` : undefined;
  const actions: Record<string, unknown>[] = [
    ...s.tools.map((t, i) => ({
      type: 'tool_use',
      id: `toolu_${i}`,
      name: t.name,
      input: JSON.parse(t.args) as unknown,
    })),
    ...s.blocks.map((type, i) => ({ type, id: `blk_${i}`, command: 'rm -rf /srv/payroll' })),
  ];
  const content: Record<string, unknown>[] = actions.length
    ? actions
    : [
        ...(reasoning ? [{ type: 'thinking', thinking: reasoning, signature: 'c2lnbmVk' }] : []),
        { type: 'text', text: reply },
      ];
  const message = {
    id: answerId('msg_'),
    type: 'message',
    role: 'assistant',
    model: String(body.model),
    content,
    stop_reason: actions.length ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: TOKENS.input, output_tokens: TOKENS.output },
  };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message));
    return;
  }
  const send = sse(res);
  const ev = (type: string, data: object) => send({ type, ...data }, type);
  ev('message_start', {
    message: {
      ...message,
      content: s.early ? content : [],
      stop_reason: null,
      usage: { input_tokens: TOKENS.input, output_tokens: 1 },
    },
  });
  if (s.stall) return;
  for (const [index, block] of (s.early ? [] : content).entries()) {
    if (block.type === 'tool_use') {
      ev('content_block_start', { index, content_block: { ...block, input: {} } });
      for (const part of pieces(JSON.stringify((block as { input: unknown }).input)))
        ev('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: part },
        });
    } else if (block.type === 'thinking') {
      ev('content_block_start', {
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const part of pieces(reasoning!))
        ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: part } });
      ev('content_block_delta', {
        index,
        delta: { type: 'signature_delta', signature: block.signature },
      });
    } else if (block.type !== 'text') {
      ev('content_block_start', { index, content_block: block });
    } else {
      // [leak-reasoning]: the text block starts with text (the first piece), as a server may.
      const [first, ...rest] = pieces(reply);
      const opening = reasoning ? first! : '';
      ev('content_block_start', { index, content_block: { type: 'text', text: opening } });
      ev('ping', {});
      for (const [i, part] of (reasoning ? rest : pieces(reply)).entries()) {
        ev('content_block_delta', { index, delta: { type: 'text_delta', text: part } });
        if (s.drop && i === 0) {
          dropSoon(res);
          return;
        }
      }
    }
    ev('content_block_stop', { index });
  }
  ev('message_delta', {
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: TOKENS.output },
  });
  ev('message_stop', {});
  res.end();
}

/** Three floats, as numbers or (as the openai SDK asks by default) base64 float32. */
function embeddingOf(body: Record<string, unknown>): number[] | string {
  const v = [0.1, 0.2, 0.3];
  if (body.encoding_format !== 'base64') return v;
  return Buffer.from(new Float32Array(v).buffer).toString('base64');
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const path = (req.url ?? '').split('?')[0]!;
      seen.push({ path, headers: req.headers, body });
      const s = scriptOf(body);
      if (s.stall && body.stream !== true) return; // never answers
      if (s.stallBody) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.write('{"error": ');
        return;
      }
      if (s.leakError) {
        const message = `the model wrote ${LEAKED_KEY} where it should not`;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            path === '/v1/messages'
              ? { type: 'error', error: { type: 'invalid_request_error', message } }
              : { error: { message, type: 'invalid_request_error', param: null, code: null } },
          ),
        );
        return;
      }
      if (req.method === 'GET' && path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: ['gpt-4.1-mini', 'unvetted'].map((id) => ({
              id,
              object: 'model',
              created: 0,
              owned_by: 'fake',
            })),
          }),
        );
      } else if (path === '/v1/chat/completions') openaiChat(body, s, res);
      else if (path === '/v1/responses') openaiResponses(body, s, res);
      else if (path === '/v1/embeddings') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: [{ object: 'embedding', index: 0, embedding: embeddingOf(body) }],
            model: String(body.model),
            usage: { prompt_tokens: 5, total_tokens: 5 },
          }),
        );
      } else if (path === '/v1/messages') anthropicMessages(body, s, res);
      else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { message: `no route ${path}`, type: 'invalid_request_error' } }),
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
