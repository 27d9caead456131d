// The LLM gateway against every shape the wire formats have, with the official clients: each
// kind of proposed action is decided (an unknown kind refused), every field that carries model
// text is redacted, every field of a request is inspected, and bad input is a 400 before
// anything is decided.

import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { RunningServer } from '../../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { GATEWAY_KEY, startLlmGateway } from '../../testing/llm-gateway.js';
import { LEAKED_KEY, startFakeProvider, type FakeProvider } from '../../demo/model-server.js';
import { makeSecrets } from '../../inspect/fixtures/samples.js';

let provider: FakeProvider;
let server: RunningServer;
let strict: RunningServer;
let openai: OpenAI;
let anthropic: Anthropic;

const MODEL = 'local/gpt-4.1-mini';
const CLAUDE = 'claude/claude-sonnet-4-5';
const REDACTED = '[REDACTED:AWS-ACCESS-TOKEN]';

/** The example entities and policies plus `extra`, or `extra` alone (`only`). */
async function policiesWith(extra: string, only = false): Promise<string> {
  const dir = await tempDir('cordon-llm-policies-');
  if (only) await cp(join(EXAMPLE_POLICIES, 'entities.json'), join(dir, 'entities.json'));
  else await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  await writeFile(join(dir, 'extra.cedar'), extra);
  return dir;
}

before(async () => {
  provider = await startFakeProvider();
  // Two tools are allowed, no other: the computer tool's calls pass, which shows they are
  // decided, not dropped.
  server = await startLlmGateway(
    provider,
    await policiesWith(
      `@id("models") permit (principal, action == Action::"callModel", resource);
@id("tools") permit (principal, action == Action::"invokeTool", resource)
when { resource == Tool::"computer" || resource == Tool::"erp/read_ledger" };\n`,
      true,
    ),
    await tempDir('cordon-llm-shapes-'),
  );
  // Refuses any prompt with an AWS key: shows what the input rail found.
  strict = await startLlmGateway(
    provider,
    await policiesWith(`@id("no-secrets-to-models")
forbid (principal, action == Action::"callModel", resource)
when { context.content.secrets.contains("aws-access-token") };\n`),
    await tempDir('cordon-llm-strict-'),
  );
  openai = new OpenAI({
    apiKey: GATEWAY_KEY,
    baseURL: `${server.url}/llm/openai/v1`,
    maxRetries: 0,
  });
  anthropic = new Anthropic({
    apiKey: GATEWAY_KEY,
    baseURL: `${server.url}/llm/anthropic`,
    maxRetries: 0,
  });
});
after(async () => {
  await server?.close();
  await strict?.close();
  await provider.close();
});

const ask = (content: string) => [{ role: 'user' as const, content }];

/** Everything a stream gave the client, as one JSON text. */
async function drain(stream: AsyncIterable<unknown>): Promise<{ events: unknown[]; all: string }> {
  const events: unknown[] = [];
  for await (const e of stream) events.push(e);
  return { events, all: JSON.stringify(events) };
}

function assertRedacted(all: string, where: string): void {
  assert.ok(!all.includes(LEAKED_KEY), `${where}: the key reached the agent: ${all}`);
  assert.ok(all.includes(REDACTED), `${where}: no redaction seen: ${all}`);
}

describe('LLM gateway: every proposed action is decided', () => {
  it('decides a legacy function_call, plain and streamed', async () => {
    const denied = await openai.chat.completions.create({
      model: MODEL,
      messages: ask('[legacy:postgres__drop_table:{"table":"payroll"}]'),
    });
    const msg = denied.choices[0]!.message;
    assert.equal(msg.function_call, undefined, 'the denied call never reaches the agent');
    assert.match(msg.content ?? '', /Cordon denied the tool call postgres__drop_table \(decision/);
    assert.equal(denied.choices[0]!.finish_reason, 'stop');

    const streamed = await drain(
      await openai.chat.completions.create({
        model: MODEL,
        messages: ask('[legacy:postgres__drop_table:{"table":"payroll"}]'),
        stream: true,
      }),
    );
    assert.ok(!streamed.all.includes('"function_call":{'), streamed.all);
    assert.match(streamed.all, /Cordon denied the tool call postgres__drop_table/);

    // An allowed one passes, whole: it was decided, not dropped.
    const final = await openai.chat.completions
      .stream({ model: MODEL, messages: ask('[legacy:erp__read_ledger:{"account":"4711"}]') })
      .finalChatCompletion();
    assert.deepEqual(final.choices[0]!.message.function_call, {
      name: 'erp__read_ledger',
      arguments: '{"account":"4711"}',
    });
  });

  it('decides a chat custom tool call, plain and streamed', async () => {
    const script = '[custom:run_sql:DROP TABLE payroll] [custom:computer:click 10 20]';
    const plain = await openai.chat.completions.create({ model: MODEL, messages: ask(script) });
    const msg = plain.choices[0]!.message;
    assert.deepEqual(
      msg.tool_calls?.map((c) => (c.type === 'custom' ? [c.custom.name, c.custom.input] : [])),
      [['computer', 'click 10 20']],
    );
    assert.match(msg.content ?? '', /Cordon denied the tool call run_sql \(decision/);
    const streamed = await drain(
      await openai.chat.completions.create({ model: MODEL, messages: ask(script), stream: true }),
    );
    assert.ok(!streamed.all.includes('DROP TABLE'), streamed.all);
    assert.match(streamed.all, /"custom":\{"name":"computer","input":"click 10 20"\}/);
  });

  it('decides local_shell_call, custom_tool_call and computer_call items; refuses an unknown type', async () => {
    const script =
      '[item:local_shell_call] [item:custom_tool_call] [item:computer_call] [item:future_call]';
    const shape = (output: OpenAI.Responses.ResponseOutputItem[]) =>
      output.map((i) =>
        i.type === 'message'
          ? (i.content[0] as { text: string }).text.replace(
              / \(decision [^)]+\).*| the model proposed.*/,
              '',
            )
          : i.type,
      );
    const expected = [
      'Cordon denied the tool call local_shell',
      'Cordon denied the tool call run_sql',
      'computer_call',
      'Cordon withheld an output item of type "future_call"',
    ];
    const plain = await openai.responses.create({ model: MODEL, input: script });
    assert.deepEqual(shape(plain.output), expected);

    const stream = await drain(
      await openai.responses.create({ model: MODEL, input: script, stream: true }),
    );
    assert.ok(!stream.all.includes('rm -rf'), `no refused item reaches the agent: ${stream.all}`);
    assert.ok(!stream.all.includes('DROP TABLE'), stream.all);
    const completed = stream.events.find(
      (e) => (e as { type: string }).type === 'response.completed',
    ) as OpenAI.Responses.ResponseCompletedEvent;
    assert.deepEqual(shape(completed.response.output), expected);
  });

  it('refuses an unknown Anthropic content block, streamed or not', async () => {
    const params = { model: CLAUDE, max_tokens: 50, messages: ask('[block:shell_exec]') };
    const plain = await anthropic.messages.create(params);
    assert.ok(!JSON.stringify(plain).includes('rm -rf'));
    assert.match(
      JSON.stringify(plain.content),
      /withheld a content block of type \\"shell_exec\\"/,
    );
    const streamed = await drain(anthropic.messages.stream(params));
    assert.ok(!streamed.all.includes('rm -rf'), streamed.all);
  });

  it('decides blocks a stream sends whole in message_start', async () => {
    const m = await anthropic.messages
      .stream({
        model: CLAUDE,
        max_tokens: 50,
        messages: ask('[early] [tool:postgres__drop_table:{"table":"payroll"}] [block:shell_exec]'),
      })
      .finalMessage();
    assert.deepEqual(
      m.content.map((b) => (b.type === 'text' ? b.text.slice(0, 40) : b.type)),
      ['Cordon denied the tool call postgres__dr', 'Cordon withheld a content block of type '],
    );
    assert.equal(m.stop_reason, 'end_turn');
  });
});

describe('LLM gateway: every field that carries model text is redacted', () => {
  it('Chat Completions: refusal, reasoning, logprobs tokens, tool-call arguments', async () => {
    for (const script of ['[leak-refusal]', '[leak-reasoning]', '[leak-logprobs]']) {
      const plain = await openai.chat.completions.create({
        model: MODEL,
        messages: ask(script),
        logprobs: true,
      });
      assertRedacted(JSON.stringify(plain), `${script} plain`);
      const streamed = await drain(
        await openai.chat.completions.create({
          model: MODEL,
          messages: ask(script),
          logprobs: true,
          stream: true,
        }),
      );
      assertRedacted(streamed.all, `${script} streamed`);
    }
    const logprobs = await openai.chat.completions
      .stream({ model: MODEL, messages: ask('[leak-logprobs]'), logprobs: true })
      .finalChatCompletion();
    const choice = logprobs.choices[0]!;
    assert.equal(
      choice.logprobs!.content!.map((t) => t.token).join(''),
      choice.message.content,
      'the tokens still spell the (redacted) text',
    );

    const args =
      '[tool:erp__read_ledger:{"account":"$LEAK"}] [legacy:erp__read_ledger:{"account":"$LEAK"}]';
    const plain = await openai.chat.completions.create({ model: MODEL, messages: ask(args) });
    assertRedacted(JSON.stringify(plain), 'tool-call arguments');
    const call = plain.choices[0]!.message.tool_calls![0]!;
    assert.deepEqual(JSON.parse(call.type === 'function' ? call.function.arguments : ''), {
      account: REDACTED,
    });
    const streamed = await openai.chat.completions
      .stream({ model: MODEL, messages: ask(args) })
      .finalChatCompletion();
    assertRedacted(JSON.stringify(streamed), 'streamed tool-call arguments');
  });

  it('Responses: reasoning, refusal, logprobs, *.done events, function arguments', async () => {
    for (const script of [
      '[leak]',
      '[leak-reasoning]',
      '[leak-refusal]',
      '[leak-logprobs]',
      '[tool:erp__read_ledger:{"account":"$LEAK"}]',
    ]) {
      assertRedacted(
        JSON.stringify(await openai.responses.create({ model: MODEL, input: script })),
        `${script} plain`,
      );
      const streamed = await drain(
        await openai.responses.create({ model: MODEL, input: script, stream: true }),
      );
      assertRedacted(streamed.all, `${script} streamed`);
    }
  });

  it('Messages: thinking, text a block starts with, tool_use input', async () => {
    for (const script of ['[leak-reasoning]', '[tool:erp__read_ledger:{"account":"$LEAK"}]']) {
      const params = { model: CLAUDE, max_tokens: 50, messages: ask(script) };
      assertRedacted(JSON.stringify(await anthropic.messages.create(params)), `${script} plain`);
      const stream = anthropic.messages.stream(params);
      const streamed = await drain(stream);
      assertRedacted(streamed.all, `${script} streamed`);
      assertRedacted(JSON.stringify(await stream.finalMessage()), `${script} final`);
    }
    const m = await anthropic.messages
      .stream({ model: CLAUDE, max_tokens: 50, messages: ask('[leak-reasoning]') })
      .finalMessage();
    assert.deepEqual(
      m.content.map((b) => (b.type === 'text' ? b.text : b.type === 'thinking' ? b.thinking : '')),
      [`thinking about ${REDACTED}`, `the key is ${REDACTED} keep it safe`],
    );
  });

  it("redacts the provider's error bodies", async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: MODEL, messages: ask('[leak-error]') }),
      (e: unknown) =>
        e instanceof OpenAI.BadRequestError &&
        !e.message.includes(LEAKED_KEY) &&
        e.message.includes(REDACTED),
    );
    await assert.rejects(
      anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: ask('[leak-error]') }),
      (e: unknown) =>
        e instanceof Anthropic.BadRequestError &&
        !e.message.includes(LEAKED_KEY) &&
        e.message.includes(REDACTED),
    );
  });
});

describe('LLM gateway: every field of a request is inspected', () => {
  const key = makeSecrets(11).aws;
  const denied = (e: unknown) =>
    (e instanceof OpenAI.PermissionDeniedError || e instanceof Anthropic.PermissionDeniedError) &&
    /no-secrets-to-models/.test(e.message);
  const requests: [string, (c: { openai: OpenAI; anthropic: Anthropic }) => Promise<unknown>][] = [
    [
      'a tool description',
      (c) =>
        c.openai.chat.completions.create({
          model: MODEL,
          messages: ask('hi'),
          tools: [
            {
              type: 'function',
              function: { name: 'deploy', description: `deploys with ${key}`, parameters: {} },
            },
          ],
        }),
    ],
    [
      'a prediction',
      (c) =>
        c.openai.chat.completions.create({
          model: MODEL,
          messages: ask('hi'),
          prediction: { type: 'content', content: `key = ${key}` },
        }),
    ],
    [
      "an assistant tool call's arguments",
      (c) =>
        c.openai.chat.completions.create({
          model: MODEL,
          messages: [
            { role: 'user', content: 'deploy' },
            {
              role: 'assistant',
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'deploy', arguments: JSON.stringify({ key }) },
                },
              ],
            },
            { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
          ],
        }),
    ],
    [
      'a document',
      (c) =>
        c.anthropic.messages.create({
          model: CLAUDE,
          max_tokens: 10,
          messages: [
            {
              role: 'user',
              content: [
                {
                  type: 'document',
                  source: { type: 'text', media_type: 'text/plain', data: `creds: ${key}` },
                },
                { type: 'text', text: 'summarize' },
              ],
            },
          ],
        }),
    ],
    [
      'a Responses tool description',
      (c) =>
        c.openai.responses.create({
          model: MODEL,
          input: 'hi',
          tools: [
            {
              type: 'function',
              name: 'deploy',
              description: `deploys with ${key}`,
              parameters: {},
              strict: false,
            },
          ],
        }),
    ],
  ];

  for (const [what, call] of requests) {
    it(`finds a secret in ${what}, and redacts it before the provider`, async () => {
      const strictClients = {
        openai: new OpenAI({
          apiKey: GATEWAY_KEY,
          baseURL: `${strict.url}/llm/openai/v1`,
          maxRetries: 0,
        }),
        anthropic: new Anthropic({
          apiKey: GATEWAY_KEY,
          baseURL: `${strict.url}/llm/anthropic`,
          maxRetries: 0,
        }),
      };
      await assert.rejects(call(strictClients), denied);
      const before = provider.seen.length;
      await call({ openai, anthropic });
      assert.equal(provider.seen.length, before + 1);
      const sent = JSON.stringify(provider.seen.at(-1)!.body);
      assert.ok(!sent.includes(key), `the key left the gateway: ${sent}`);
      assert.ok(sent.includes(REDACTED), sent);
    });
  }
});

describe('LLM gateway: bad input is a 400 before anything is decided', () => {
  const records = async () =>
    ((await (await fetch(`${server.url}/healthz`)).json()) as { auditRecords: number })
      .auditRecords;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${GATEWAY_KEY}`,
        'x-api-key': GATEWAY_KEY,
        ...headers,
      },
      body,
    });
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const chat = (extra: string) =>
    `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],${extra}}`;
  const bad: [string, string, string][] = [
    [
      'a body nested 10,000 deep',
      '/llm/openai/v1/chat/completions',
      chat(`"metadata":${deep(10_000)}`),
    ],
    ['a lone surrogate', '/llm/openai/v1/chat/completions', chat('"user":"\\ud800"')],
    ['1e999', '/llm/openai/v1/chat/completions', chat('"temperature":1e999')],
    [
      'a model that is not a string',
      '/llm/openai/v1/chat/completions',
      '{"model":42,"messages":[]}',
    ],
    [
      'messages that are not an array',
      '/llm/anthropic/v1/messages',
      `{"model":"${CLAUDE}","messages":"hi"}`,
    ],
    [
      'a tool that is not an object',
      '/llm/openai/v1/responses',
      `{"model":"${MODEL}","input":"hi","tools":[null]}`,
    ],
    [
      'a deeply nested message',
      '/llm/anthropic/v1/messages',
      `{"model":"${CLAUDE}","max_tokens":5,"messages":[{"role":"user","content":${'[{"type":"text","content":'.repeat(3000)}"x"${'}]'.repeat(3000)}}]}`,
    ],
  ];
  for (const [what, path, body] of bad) {
    it(`refuses ${what} with a 400, records nothing, calls no provider`, async () => {
      const before = { records: await records(), seen: provider.seen.length };
      const res = await post(path, body);
      const json = (await res.json()) as { error?: { message?: string } };
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.ok(json.error?.message, 'the error says why');
      assert.equal(provider.seen.length, before.seen, 'no provider call');
      assert.equal(await records(), before.records, 'no decision recorded');
    });
  }

  it('refuses the same input on /v1/decide with a 400, not an audit failure', async () => {
    // An LLM gateway key is no decision credential: decide as an anonymous loopback caller.
    const decide = (input: string) =>
      fetch(`${server.url}/v1/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"agent":"ledger-bot","action":"invokeTool","resource":{"type":"Tool","id":"erp/read_ledger"},"input":${input}}`,
      });
    const before = await records();
    for (const input of ['{"q":"\\udc00"}', '{"n":1e999}', deep(10_000)]) {
      const res = await decide(input);
      const json = (await res.json()) as { error?: string };
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.match(json.error ?? '', /cannot be decided/);
    }
    assert.equal(await records(), before, 'nothing recorded');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^cordon_audit_append_failures_total 0$/m, 'no disk-failure alarm');
    // And the log still takes decisions.
    const ok = await decide('{"q":"fine"}');
    assert.equal(ok.status, 200);
    assert.equal(await records(), before + 1);
  });
});
