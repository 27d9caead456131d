import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { AUDIT_DB } from '../../audit/log.js';
import type { AuditRecord } from '../../audit/record.js';
import { SqliteAuditStore } from '../../audit/sqlite-store.js';
import type { RunningServer } from '../../runtime/start.js';
import { GATEWAY_KEY, startLlmGateway, UPSTREAM_KEY } from '../../testing/llm-gateway.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { LEAKED_KEY, startFakeProvider, type FakeProvider } from '../../demo/model-server.js';
import { makeSecrets } from '../../inspect/fixtures/samples.js';
import { runCli } from '../../testing/cli.js';

const KEY = GATEWAY_KEY;

let provider: FakeProvider;
let server: RunningServer;
let data: string;
let openai: OpenAI;
let anthropic: Anthropic;

const startGateway = (policies: string, dataDir: string, timeoutSeconds = 30) =>
  startLlmGateway(provider, policies, dataDir, timeoutSeconds);

before(async () => {
  provider = await startFakeProvider();
  data = await tempDir('cordon-llm-');
  server = await startGateway(EXAMPLE_POLICIES, data, 1);
  openai = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/llm/openai/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: `${server.url}/llm/anthropic`, maxRetries: 0 });
});
after(async () => {
  await server.close();
  await provider.close();
});

const tools = [
  {
    type: 'function' as const,
    function: { name: 'erp__read_ledger', parameters: { type: 'object' } },
  },
  {
    type: 'function' as const,
    function: { name: 'postgres__drop_table', parameters: { type: 'object' } },
  },
];
const bothTools =
  '[tool:erp__read_ledger:{"account":"4711"}] [tool:postgres__drop_table:{"table":"payroll"}]';

describe('LLM gateway, OpenAI API, with the official openai client', () => {
  it('forwards an allowed model with the provider key; the agent never holds it', async () => {
    const r = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hello' }],
    });
    assert.equal(r.choices[0]!.message.content, 'echo: hello');
    const seen = provider.seen.at(-1)!;
    assert.equal(seen.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.equal(seen.body.model, 'gpt-4.1-mini', 'the upstream gets its own model name');

    // The decision and, once the call finished, what it used are both in the decision log.
    const store = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
    try {
      let usage: AuditRecord | undefined;
      for (let i = 0; i < 100 && !usage; i++) {
        usage = store
          .tail(50)
          .map((row) => JSON.parse(row.record) as AuditRecord)
          .find((rec) => rec.kind === 'usage');
        if (!usage) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(usage?.usage, { tokens: 18 });
      const decision = JSON.parse(store.byDecisionId(usage!.parent!)!.record) as AuditRecord;
      assert.equal(decision.action, 'callModel');
      assert.deepEqual(decision.resource, {
        type: 'Model',
        id: 'local/gpt-4.1-mini',
        attrs: { provider: 'local' },
      });
      assert.equal(decision.decision, 'allow');
      assert.equal(decision.agent, 'ledger-bot');
      assert.equal(decision.user, 'alice');
    } finally {
      store.close();
    }
  });

  it('refuses a model policy does not allow, as the SDK error for 403', async () => {
    const before = provider.seen.length;
    await assert.rejects(
      openai.chat.completions.create({
        model: 'local/unvetted',
        messages: [{ role: 'user', content: 'x' }],
      }),
      (e: unknown) =>
        e instanceof OpenAI.PermissionDeniedError &&
        /Cordon denied callModel on Model::"local\/unvetted"/.test(e.message),
    );
    assert.equal(provider.seen.length, before, 'nothing reached the provider');
  });

  it('refuses unknown keys and unknown upstreams in the OpenAI error format', async () => {
    const stranger = new OpenAI({
      apiKey: 'not-a-key',
      baseURL: `${server.url}/llm/openai/v1`,
      maxRetries: 0,
    });
    await assert.rejects(
      stranger.chat.completions.create({
        model: 'local/gpt-4.1-mini',
        messages: [{ role: 'user', content: 'x' }],
      }),
      OpenAI.AuthenticationError,
    );
    await assert.rejects(
      openai.chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: [{ role: 'user', content: 'x' }],
      }),
      OpenAI.NotFoundError,
    );
  });

  it('accepts a delegation token as the API key and decides for its agent and user', async () => {
    // Issued by the CLI in a child process without blocking this one: spawnSync would stall the
    // gateway's event loop here, and the client's next request on a kept-alive socket could meet
    // the server closing it (ECONNRESET) on a loaded machine (testing/cli.ts).
    const issueToken = async (user: string) =>
      (
        await runCli(['token', 'issue', '--user', user, '--agent', 'ledger-bot', '--data', data])
      ).stdout.trim();
    const asAlice = new OpenAI({
      apiKey: await issueToken('alice'),
      baseURL: `${server.url}/llm/openai/v1`,
      maxRetries: 0,
    });
    const r = await asAlice.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(r.choices[0]!.message.content, 'echo: hi');
    // guest-42 is a customer, not an employee: the same agent may not call models for them.
    const asGuest = new OpenAI({
      apiKey: await issueToken('guest-42'),
      baseURL: `${server.url}/llm/openai/v1`,
      maxRetries: 0,
    });
    await assert.rejects(
      asGuest.chat.completions.create({
        model: 'local/gpt-4.1-mini',
        messages: [{ role: 'user', content: 'hi' }],
      }),
      OpenAI.PermissionDeniedError,
    );
  });

  it('decides every proposed tool call; a denied one is replaced by a refusal the agent reads', async () => {
    const r = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: bothTools }],
      tools,
    });
    const msg = r.choices[0]!.message;
    assert.deepEqual(
      msg.tool_calls?.map((c) =>
        c.type === 'function' ? [c.function.name, c.function.arguments] : [],
      ),
      [['erp__read_ledger', '{"account":"4711"}']],
    );
    assert.match(
      msg.content!,
      /Cordon denied the tool call postgres__drop_table \(decision [0-9a-f-]+\)/,
    );
    assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
  });

  it('streams event by event, and holds a streamed tool call until it is decided', async () => {
    const text = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: 'a streamed answer' }],
      stream: true,
    });
    const parts: string[] = [];
    for await (const c of text)
      if (c.choices[0]?.delta.content) parts.push(c.choices[0].delta.content);
    assert.ok(parts.length >= 3, `deltas arrive separately, not buffered whole: ${parts.length}`);
    assert.equal(parts.join(''), 'echo: a streamed answer');

    const stream = openai.chat.completions.stream({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: bothTools }],
      tools,
    });
    const done = await stream.finalChatCompletion();
    const msg = done.choices[0]!.message;
    assert.deepEqual(
      msg.tool_calls?.map((c) => c.function.name),
      ['erp__read_ledger'],
    );
    assert.deepEqual(JSON.parse(msg.tool_calls![0]!.function.arguments), { account: '4711' });
    assert.match(msg.content ?? '', /Cordon denied the tool call postgres__drop_table/);
  });

  it('turns a stream the upstream drops midway, or a silent upstream, into SDK errors', async () => {
    const dropped = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: 'this will [drop] midway' }],
      stream: true,
    });
    await assert.rejects(async () => {
      for await (const _ of dropped) void _;
    }, /dropped the stream/);
    const stalled = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: '[stall]' }],
      stream: true,
    });
    await assert.rejects(async () => {
      for await (const _ of stalled) void _;
    }, /stalled/);
    await assert.rejects(
      openai.chat.completions.create({
        model: 'local/gpt-4.1-mini',
        messages: [{ role: 'user', content: '[stall]' }],
      }),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 504,
    );
    // An error whose body stalls, streamed or not: a 504 in the provider's format, not a hang
    // or Cordon's own 500.
    for (const stream of [false, true])
      await assert.rejects(
        openai.chat.completions.create({
          model: 'local/gpt-4.1-mini',
          messages: [{ role: 'user', content: '[stall-body]' }],
          stream,
        }),
        (e: unknown) =>
          e instanceof OpenAI.APIError && e.status === 504 && /stalled/.test(e.message),
      );
  });

  it('serves the Responses API, streamed or not, with tool calls decided', async () => {
    const r = await openai.responses.create({
      model: 'local/gpt-4.1-mini',
      input: bothTools,
      tools: [
        {
          type: 'function',
          name: 'erp__read_ledger',
          parameters: { type: 'object' },
          strict: false,
        },
        {
          type: 'function',
          name: 'postgres__drop_table',
          parameters: { type: 'object' },
          strict: false,
        },
      ],
    });
    assert.deepEqual(
      r.output.map((i) => (i.type === 'function_call' ? `call ${i.name}` : i.type)),
      ['call erp__read_ledger', 'message'],
    );
    assert.match(r.output_text, /Cordon denied the tool call postgres__drop_table/);
    const stream = await openai.responses.create({
      model: 'local/gpt-4.1-mini',
      input: bothTools,
      stream: true,
    });
    const named: string[] = [];
    let final: OpenAI.Responses.Response | undefined;
    for await (const e of stream) {
      if (e.type === 'response.output_item.added' && e.item.type === 'function_call')
        named.push(e.item.name);
      if (e.type === 'response.completed') final = e.response;
    }
    assert.deepEqual(named, ['erp__read_ledger'], 'the denied call never reaches the agent');
    assert.deepEqual(
      final!.output.map((i) => (i.type === 'function_call' ? `call ${i.name}` : i.type)),
      ['call erp__read_ledger', 'message'],
    );
  });

  it('serves embeddings and lists only the models policy allows', async () => {
    const e = await openai.embeddings.create({ model: 'local/gpt-4.1-mini', input: 'vectors' });
    assert.equal(e.data[0]!.embedding.length, 3);
    const models = [];
    for await (const m of openai.models.list()) models.push(m.id);
    assert.deepEqual(models, ['local/gpt-4.1-mini']);
  });
});

describe('LLM gateway and the audit log', () => {
  it('withholds the answer when the record of the call cannot be made durable, then refuses calls', async () => {
    const dir = await tempDir('cordon-llm-');
    const gw = await startGateway(EXAMPLE_POLICIES, dir);
    try {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/llm/openai/v1`, maxRetries: 0 });
      // The WAL is gone: the decision's record is written, but the fsync that would make it
      // durable cannot open the file.
      unlinkSync(join(dir, `${AUDIT_DB}-wal`));
      const before = provider.seen.length;
      await assert.rejects(
        client.chat.completions.create({
          model: 'local/gpt-4.1-mini',
          messages: [{ role: 'user', content: 'hello' }],
        }),
        (e: unknown) =>
          e instanceof OpenAI.APIError &&
          e.status === 503 &&
          /could not be made durable, so its result is withheld/.test(e.message),
      );
      // The call went out beside the fsync; its failure aborts it, maybe before the provider
      // has read it.
      const afterFirst = provider.seen.length;
      assert.ok(afterFirst <= before + 1);
      await assert.rejects(
        client.chat.completions.create({
          model: 'local/gpt-4.1-mini',
          messages: [{ role: 'user', content: 'hello' }],
        }),
        (e: unknown) =>
          e instanceof OpenAI.PermissionDeniedError && /audit-unavailable/.test(e.message),
      );
      assert.equal(provider.seen.length, afterFirst, 'nothing more reached the provider');
    } finally {
      await gw.close().catch(() => {});
    }
  });
});

describe('LLM gateway, Anthropic API, with the official @anthropic-ai/sdk client', () => {
  it('forwards with the provider key and returns the provider format', async () => {
    const m = await anthropic.messages.create({
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hello claude' }],
    });
    assert.deepEqual(m.content, [{ type: 'text', text: 'echo: hello claude' }]);
    const seen = provider.seen.at(-1)!;
    assert.equal(seen.headers['x-api-key'], UPSTREAM_KEY);
    assert.equal(seen.body.model, 'claude-sonnet-4-5');
  });

  it('refuses a disallowed model as the SDK error for 403', async () => {
    await assert.rejects(
      anthropic.messages.create({
        model: 'claude/claude-unvetted',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      }),
      Anthropic.PermissionDeniedError,
    );
  });

  it('replaces a denied tool_use block, streamed or not, and keeps the allowed one', async () => {
    const params = {
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 100,
      messages: [{ role: 'user' as const, content: bothTools }],
      tools: [
        { name: 'erp__read_ledger', input_schema: { type: 'object' as const } },
        { name: 'postgres__drop_table', input_schema: { type: 'object' as const } },
      ],
    };
    const plain = await anthropic.messages.create(params);
    const shape = (m: Anthropic.Message) =>
      m.content.map((b) =>
        b.type === 'tool_use'
          ? `tool ${b.name} ${JSON.stringify(b.input)}`
          : b.type === 'text'
            ? b.text.replace(/\(decision [^)]+\)/, '')
            : b.type,
      );
    assert.equal(shape(plain)[0], 'tool erp__read_ledger {"account":"4711"}');
    assert.match(shape(plain)[1]!, /^Cordon denied the tool call postgres__drop_table/);
    const streamed = await anthropic.messages.stream(params).finalMessage();
    assert.deepEqual(shape(streamed), shape(plain));
    assert.equal(streamed.stop_reason, 'tool_use');
  });

  it('turns a dropped stream into an SDK error, not a hang', async () => {
    const stream = anthropic.messages.stream({
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'will [drop]' }],
    });
    await assert.rejects(stream.finalMessage(), /dropped the stream/);
  });
});

describe('LLM gateway content rails', () => {
  const leaked = (text: string) => text.includes(LEAKED_KEY);

  it('redacts a secret in the prompt before the provider sees it', async () => {
    const key = makeSecrets(7).aws;
    await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [
        { role: 'system', content: 'you are a helpful agent' },
        { role: 'user', content: `deploy with AWS_ACCESS_KEY_ID=${key} please` },
      ],
    });
    const sent = JSON.stringify(provider.seen.at(-1)!.body);
    assert.ok(!sent.includes(key), 'the key never left the gateway');
    assert.match(sent, /\[REDACTED:AWS-ACCESS-TOKEN\]/);
    await anthropic.messages.create({
      model: 'claude/claude-sonnet-4-5',
      max_tokens: 10,
      system: `ops key ${key}`,
      messages: [{ role: 'user', content: [{ type: 'text', text: `and again ${key}` }] }],
    });
    assert.ok(!JSON.stringify(provider.seen.at(-1)!.body).includes(key));
  });

  it('lets policy refuse a prompt that carries a credential, from the findings in context.content', async () => {
    const policies = await tempDir('cordon-llm-policies-');
    await cp(EXAMPLE_POLICIES, policies, { recursive: true });
    await writeFile(
      join(policies, 'no-secrets.cedar'),
      `@id("no-secrets-to-models")
forbid (principal, action == Action::"callModel", resource)
when { context.content.secrets.contains("aws-access-token") };\n`,
    );
    const gw = await startGateway(policies, await tempDir('cordon-llm-secrets-'));
    try {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/llm/openai/v1`, maxRetries: 0 });
      const before = provider.seen.length;
      await assert.rejects(
        client.chat.completions.create({
          model: 'local/gpt-4.1-mini',
          messages: [{ role: 'user', content: `use ${makeSecrets(9).aws}` }],
        }),
        (e: unknown) =>
          e instanceof OpenAI.PermissionDeniedError && /no-secrets-to-models/.test(e.message),
      );
      assert.equal(provider.seen.length, before, 'nothing reached the provider');
    } finally {
      await gw.close();
    }
  });

  it('redacts a secret in the answer, also when a stream splits it across events', async () => {
    const ask = [{ role: 'user' as const, content: '[leak]' }];
    const plain = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: ask,
    });
    assert.equal(
      plain.choices[0]!.message.content,
      'the key is [REDACTED:AWS-ACCESS-TOKEN] keep it safe',
    );

    const stream = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: ask,
      stream: true,
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    assert.ok(!leaked(text), text);
    assert.equal(text, 'the key is [REDACTED:AWS-ACCESS-TOKEN] keep it safe');

    const claude = await anthropic.messages
      .stream({ model: 'claude/claude-sonnet-4-5', max_tokens: 50, messages: ask })
      .finalMessage();
    const claudeText = claude.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    assert.equal(claudeText, 'the key is [REDACTED:AWS-ACCESS-TOKEN] keep it safe');

    const responses = await openai.responses.create({
      model: 'local/gpt-4.1-mini',
      input: '[leak]',
      stream: true,
    });
    let deltas = '';
    let final = '';
    for await (const e of responses) {
      if (e.type === 'response.output_text.delta') deltas += e.delta;
      if (e.type === 'response.completed')
        final = e.response.output_text ?? JSON.stringify(e.response.output);
    }
    assert.equal(deltas, 'the key is [REDACTED:AWS-ACCESS-TOKEN] keep it safe');
    assert.ok(!leaked(final), final);
  });
});

describe('LLM gateway budgets', () => {
  it('counts the tokens the provider reports and stops the agent once its budget is spent', async () => {
    const policies = await tempDir('cordon-llm-policies-');
    await cp(EXAMPLE_POLICIES, policies, { recursive: true });
    const file = join(policies, 'models.cedar');
    await writeFile(file, (await readFile(file, 'utf8')).replace('>= 200000', '>= 30'));
    const gw = await startGateway(policies, await tempDir('cordon-llm-budget-'));
    try {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${gw.url}/llm/openai/v1`, maxRetries: 0 });
      const call = () =>
        client.chat.completions.create({
          model: 'local/gpt-4.1-mini',
          messages: [{ role: 'user', content: 'x' }],
        });
      await call(); // 18 tokens
      const stream = await client.chat.completions.create({
        model: 'local/gpt-4.1-mini',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      for await (const _ of stream) void _; // 36: streamed usage counts too
      await assert.rejects(
        call(),
        (e: unknown) =>
          e instanceof OpenAI.PermissionDeniedError && /agent-token-budget/.test(e.message),
      );
    } finally {
      await gw.close();
    }
  });
});
