import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { readAdminCredential } from '../../identity/credentials.js';
import type { RunningServer } from '../../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../../testing/fixtures.js';
import { GATEWAY_KEY, startLlmGateway } from '../../testing/llm-gateway.js';
import { startFakeProvider, type FakeProvider } from '../../demo/model-server.js';

// `cordon serve` with the LLM gateway; isolation applied and released through the HTTP API with
// the local admin credential, as `cordon isolate` / `cordon release` do.
let provider: FakeProvider;
let server: RunningServer;
let openai: OpenAI;
let admin: string;

before(async () => {
  provider = await startFakeProvider();
  const data = await tempDir('cordon-llm-iso-');
  server = await startLlmGateway(provider, EXAMPLE_POLICIES, data);
  openai = new OpenAI({
    apiKey: GATEWAY_KEY,
    baseURL: `${server.url}/llm/openai/v1`,
    maxRetries: 0,
  });
  admin = (await readAdminCredential(data))!;
});
after(async () => {
  await server.close();
  await provider.close();
});

const control = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
};
const isolate = (measures: Record<string, unknown>) =>
  control('/v1/isolation', { agent: 'ledger-bot', measures, reason: 'ledger anomaly' });
const release = () => control('/v1/isolation/release', { agent: 'ledger-bot' });

const ask = () =>
  openai.chat.completions.create({
    model: 'local/gpt-4.1-mini',
    messages: [{ role: 'user', content: '[tool:erp__read_ledger:{"account":"4711"}]' }],
    tools: [
      { type: 'function', function: { name: 'erp__read_ledger', parameters: { type: 'object' } } },
    ],
  });
const proposed = (r: OpenAI.Chat.Completions.ChatCompletion) =>
  (r.choices[0]!.message.tool_calls ?? []).map((c) =>
    c.type === 'function' ? c.function.name : c.type,
  );

describe('LLM gateway under isolation', () => {
  it('refuses a model-proposed call to a revoked tool, and passes it again after release', async () => {
    assert.deepEqual(proposed(await ask()), ['erp__read_ledger']);
    await isolate({ revokedTools: ['erp/read_ledger'] });
    const r = await ask();
    assert.deepEqual(proposed(r), []);
    assert.match(
      r.choices[0]!.message.content ?? '',
      /Cordon denied the tool call erp__read_ledger .*agent "ledger-bot" is isolated \(tool erp\/read_ledger is revoked\); applied by cordon-admin: ledger anomaly/,
    );
    await release();
    assert.deepEqual(proposed(await ask()), ['erp__read_ledger']);
  });

  it('refuses every model call under full isolation, and serves again after release', async () => {
    await isolate({ full: true });
    await assert.rejects(ask(), (e: unknown) => {
      assert.ok(e instanceof OpenAI.PermissionDeniedError);
      assert.match(e.message, /cordon\/isolation.*full isolation/);
      return true;
    });
    await release();
    assert.deepEqual(proposed(await ask()), ['erp__read_ledger']);
  });

  it('ends a streamed call in flight when the agent is fully isolated', async () => {
    const stream = await openai.chat.completions.create({
      model: 'local/gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hello, then [stall]' }],
      stream: true,
    });
    // The provider sends one event, then goes silent for longer than the test lasts: only the
    // isolation can end the call.
    const events = stream[Symbol.asyncIterator]();
    await events.next();
    await isolate({ full: true });
    await assert.rejects(
      async () => {
        while (!(await events.next()).done);
      },
      (e: unknown) => {
        assert.doesNotMatch(String(e), /stalled/);
        assert.match(String(e), /isolated: ledger anomaly/);
        return true;
      },
    );
    await release();
  });
});
