// A local model provider for tests and benches, speaking the real OpenAI (chat completions,
// responses, embeddings, models) and Anthropic (messages) wire formats, streamed or not. The
// last user message scripts it: `[tool:NAME:{"json":"args"}]` proposes a tool call, `[drop]`
// cuts a stream midway, `[stall]` goes silent, `[stall-body]` sends an error's headers and half
// its body, then goes silent, `[leak]` answers with an AWS access key (split
// across stream events); anything else is echoed back.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { makeSecrets } from '../inspect/fixtures/samples.js';

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
  drop: boolean;
  stall: boolean;
  stallBody: boolean;
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

function scriptOf(body: Record<string, unknown>): Script {
  const text = lastUserText(body);
  const tools = [...text.matchAll(/\[tool:([\w.-]+):(\{.*?\})\]/g)].map((m) => ({
    name: m[1]!,
    args: m[2]!,
  }));
  const reply = text.includes('[leak]') ? `the key is ${LEAKED_KEY} keep it safe` : `echo: ${text}`;
  return {
    text,
    reply,
    tools,
    drop: text.includes('[drop]'),
    stall: text.includes('[stall]'),
    stallBody: text.includes('[stall-body]'),
  };
}

const pieces = (s: string) => {
  const third = Math.max(1, Math.ceil(s.length / 3));
  return [s.slice(0, third), s.slice(third, 2 * third), s.slice(2 * third)].filter(Boolean);
};

const TOKENS = { input: 11, output: 7 };

/** What `[leak]` answers with: a well-formed AWS access key id (not a documentation example). */
export const LEAKED_KEY = makeSecrets().aws;

/** Cuts the connection once what was written has gone out: a stream dropped midway. */
const dropSoon = (res: ServerResponse) => setTimeout(() => res.socket?.destroy(), 30);

function sse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  return (data: unknown, event?: string) =>
    res.write(
      `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
    );
}

function openaiChat(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: String(body.model) };
  const reply = s.reply;
  const usage = {
    prompt_tokens: TOKENS.input,
    completion_tokens: TOKENS.output,
    total_tokens: TOKENS.input + TOKENS.output,
  };
  const toolCalls = s.tools.map((t, i) => ({
    id: `call_${i}`,
    type: 'function',
    function: { name: t.name, arguments: t.args },
  }));
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
              content: toolCalls.length ? null : reply,
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
              refusal: null,
            },
            finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
            logprobs: null,
          },
        ],
        usage,
      }),
    );
    return;
  }
  const send = sse(res);
  const chunk = (delta: unknown, finish: string | null = null) =>
    send({
      ...base,
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    });
  chunk({ role: 'assistant', content: '' });
  if (s.stall) return; // headers and one event, then silence
  if (toolCalls.length) {
    toolCalls.forEach((c, i) => {
      chunk({
        tool_calls: [
          {
            index: i,
            id: c.id,
            type: 'function',
            function: { name: c.function.name, arguments: '' },
          },
        ],
      });
      for (const part of pieces(c.function.arguments))
        chunk({ tool_calls: [{ index: i, function: { arguments: part } }] });
    });
  } else {
    const parts = pieces(reply);
    for (const [i, part] of parts.entries()) {
      chunk({ content: part });
      if (s.drop && i === 0) {
        dropSoon(res);
        return;
      }
    }
  }
  chunk({}, toolCalls.length ? 'tool_calls' : 'stop');
  if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage)
    send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  send('[DONE]');
  res.end();
}

function openaiResponses(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const output = s.tools.length
    ? s.tools.map((t, i) => ({
        id: `fc_${i}`,
        type: 'function_call',
        status: 'completed',
        call_id: `call_${i}`,
        name: t.name,
        arguments: t.args,
      }))
    : [
        {
          id: 'msg_0',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: s.reply, annotations: [] }],
        },
      ];
  const response = {
    id: 'resp_fake',
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
    ev('response.output_item.added', { output_index: i, item: { ...item, arguments: '' } });
    if (item.type === 'function_call') {
      for (const part of pieces((item as { arguments: string }).arguments))
        ev('response.function_call_arguments.delta', {
          item_id: item.id,
          output_index: i,
          delta: part,
        });
      ev('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: i,
        arguments: (item as { arguments: string }).arguments,
      });
    } else {
      for (const part of pieces(s.reply))
        ev('response.output_text.delta', {
          item_id: item.id,
          output_index: i,
          content_index: 0,
          delta: part,
        });
      ev('response.output_text.done', {
        item_id: item.id,
        output_index: i,
        content_index: 0,
        text: s.reply,
      });
    }
    ev('response.output_item.done', { output_index: i, item });
  });
  ev('response.completed', { response });
  res.end();
}

function anthropicMessages(body: Record<string, unknown>, s: Script, res: ServerResponse): void {
  const reply = s.reply;
  const content = s.tools.length
    ? s.tools.map((t, i) => ({
        type: 'tool_use',
        id: `toolu_${i}`,
        name: t.name,
        input: JSON.parse(t.args) as unknown,
      }))
    : [{ type: 'text', text: reply }];
  const message = {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model: String(body.model),
    content,
    stop_reason: s.tools.length ? 'tool_use' : 'end_turn',
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
      content: [],
      stop_reason: null,
      usage: { input_tokens: TOKENS.input, output_tokens: 1 },
    },
  });
  if (s.stall) return;
  for (const [index, block] of content.entries()) {
    if (block.type === 'tool_use') {
      ev('content_block_start', { index, content_block: { ...block, input: {} } });
      for (const part of pieces(JSON.stringify((block as { input: unknown }).input)))
        ev('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: part },
        });
    } else {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      ev('ping', {});
      for (const [i, part] of pieces(reply).entries()) {
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
