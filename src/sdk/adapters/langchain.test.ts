// cordon/sdk/langchain with real LangChain.js: ChatOpenAI (OpenAI chat completions against a
// local model that proposes the calls) with tools bound, driven by the core tool-calling loop
// (invoke each tool with its tool call, send the ToolMessages back) and by langchain's
// createAgent (its ToolNode loop).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  HumanMessage,
  ToolMessage,
  type AIMessage,
  type BaseMessage,
} from '@langchain/core/messages';
import { DynamicTool, tool, type StructuredToolInterface } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { createAgent } from 'langchain';
import { z } from 'zod';
import { startFakeProvider, type FakeProvider } from '../../demo/model-server.js';
import {
  AGENT,
  ASK,
  brokenDecider,
  DESCRIPTIONS,
  erpFunctions,
  exampleDecider,
  LEDGER,
  MODEL,
  SERVER,
  type Ran,
} from '../../testing/agent-tools.js';
import { CordonDeniedError, type Decider } from '../guard.js';
import { cordonTool, cordonTools } from './langchain.js';

let provider: FakeProvider;
let decider: Awaited<ReturnType<typeof exampleDecider>>;
let chat: ChatOpenAI;

before(async () => {
  provider = await startFakeProvider();
  decider = await exampleDecider();
  chat = new ChatOpenAI({
    model: MODEL,
    apiKey: 'local',
    maxRetries: 0,
    configuration: { baseURL: `${provider.url}/v1` },
  });
});
after(() => provider.close());

function erpTools(ran: Ran[]) {
  const f = erpFunctions(ran);
  return [
    tool(f.read_ledger, {
      name: 'read_ledger',
      description: DESCRIPTIONS.read_ledger,
      schema: z.object({ account: z.string() }),
    }),
    tool(f.wire_transfer, {
      name: 'wire_transfer',
      description: DESCRIPTIONS.wire_transfer,
      schema: z.object({ to: z.string(), amountEur: z.number() }),
    }),
    tool(f.delete_vendor, {
      name: 'delete_vendor',
      description: DESCRIPTIONS.delete_vendor,
      schema: z.object({ vendor: z.string() }),
    }),
  ];
}

const guarded = (ran: Ran[], d: Decider = decider) =>
  cordonTools(d, erpTools(ran), { server: SERVER, agent: AGENT });

/** The tool-calling loop of LangChain's docs: model, tools, ToolMessages back, until it answers. */
async function loop(tools: StructuredToolInterface[], prompt: string) {
  const model = chat.bindTools(tools);
  const byName = new Map(tools.map((t) => [t.name, t]));
  const messages: BaseMessage[] = [new HumanMessage(prompt)];
  for (let turn = 0; turn < 4; turn++) {
    const ai: AIMessage = await model.invoke(messages);
    messages.push(ai);
    if (!ai.tool_calls?.length) return { text: String(ai.content), messages };
    for (const call of ai.tool_calls) messages.push(await byName.get(call.name)!.invoke(call));
  }
  throw new Error('the model did not stop calling tools');
}

const toolMessages = (messages: BaseMessage[]) =>
  messages.filter((m): m is ToolMessage => ToolMessage.isInstance(m));

describe('cordon/sdk/langchain (LangChain.js)', () => {
  it('runs an allowed tool call and the model reads its result', async () => {
    const ran: Ran[] = [];
    const r = await loop(guarded(ran), ASK.read);
    assert.deepEqual(ran, [{ tool: 'read_ledger', args: { account: '4711' } }]);
    assert.equal(r.text, `tool results: ${LEDGER}`);
    const [msg] = toolMessages(r.messages);
    assert.equal(msg!.status, 'success');
    const req = decider.asked.at(-1)!;
    assert.equal(req.resource.id, 'erp/read_ledger');
    assert.deepEqual(req.input, { account: '4711' });
  });

  it('answers a denied call with an error ToolMessage the model reads; the tool does not run', async () => {
    const ran: Ran[] = [];
    const r = await loop(guarded(ran), ASK.delete);
    assert.deepEqual(ran, []);
    const [msg] = toolMessages(r.messages);
    assert.equal(msg!.status, 'error');
    assert.equal(msg!.name, 'delete_vendor');
    assert.match(String(msg!.content), /^Cordon denied invokeTool on Tool::"erp\/delete_vendor"/);
    const meta = msg!.metadata?.cordon as { code: string; id: string };
    assert.equal(meta.code, 'CORDON_DENIED');
    assert.ok(meta.id);
    assert.match(r.text, /^tool results: Cordon denied/);
  });

  it('reports require_approval as waiting for a person', async () => {
    const ran: Ran[] = [];
    const r = await loop(guarded(ran), ASK.wire);
    assert.deepEqual(ran, []);
    assert.match(r.text, /needs a human's approval.*once a person has approved/);
  });

  it('throws the CordonDeniedError when invoked with bare arguments (no tool call to answer)', async () => {
    const ran: Ran[] = [];
    const del = guarded(ran)[2] as StructuredToolInterface;
    await assert.rejects(del.invoke({ vendor: 'ACME' }), (e: unknown) => {
      assert.ok(e instanceof CordonDeniedError);
      return true;
    });
    assert.deepEqual(ran, []);
  });

  it('refuses every call when the decision point cannot answer', async () => {
    const ran: Ran[] = [];
    const r = await loop(guarded(ran, brokenDecider), ASK.read);
    assert.deepEqual(ran, []);
    assert.match(r.text, /Cordon could not decide .*ECONNREFUSED/);
  });

  it('without the adapter the same denied call runs (the scenario needs Cordon)', async () => {
    const ran: Ran[] = [];
    const r = await loop(erpTools(ran), ASK.delete);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['delete_vendor'],
    );
    assert.equal(r.text, 'tool results: deleted ACME');
  });

  it("createAgent's loop: the allowed call runs, the denied one reaches the model as an error", async () => {
    const ran: Ran[] = [];
    const agent = createAgent({ model: chat, tools: guarded(ran) });
    const out = await agent.invoke({ messages: [new HumanMessage(`${ASK.read} ${ASK.delete}`)] });
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['read_ledger'],
    );
    const msgs = toolMessages(out.messages);
    assert.deepEqual(
      msgs.map((m) => m.status),
      ['success', 'error'],
    );
    const last = out.messages.at(-1)!;
    assert.match(String(last.content), new RegExp(`^tool results: ${LEDGER} \\| Cordon denied`));
  });

  it('keeps what the tool is: name, schema, class, and the content-and-artifact format', async () => {
    const ran: Ran[] = [];
    const [read] = erpTools(ran);
    const wrapped = cordonTool(decider, read!, { server: SERVER, agent: AGENT });
    assert.equal(wrapped.name, 'read_ledger');
    assert.equal(wrapped.schema, read!.schema);
    assert.ok(wrapped instanceof read!.constructor);
    const artifact = tool(async () => ['content', { rows: 1 }], {
      name: 'delete_vendor',
      schema: z.object({}),
      responseFormat: 'content_and_artifact',
    });
    const msg = await cordonTool(decider, artifact, { server: SERVER, agent: AGENT }).invoke({
      type: 'tool_call',
      id: 'call_9',
      name: 'delete_vendor',
      args: {},
    });
    assert.ok(ToolMessage.isInstance(msg));
    assert.equal(msg.status, 'error');
    assert.equal(msg.tool_call_id, 'call_9');
  });

  it('guards a string-input DynamicTool on its string', async () => {
    const ran: string[] = [];
    const t = new DynamicTool({
      name: 'delete_vendor',
      description: 'delete',
      func: async (s: string) => {
        ran.push(s);
        return 'done';
      },
    });
    const msg = await cordonTool(decider, t, { server: SERVER, agent: AGENT }).invoke({
      type: 'tool_call',
      id: 'call_1',
      name: 'delete_vendor',
      args: { input: 'ACME' },
    });
    assert.equal((msg as unknown as ToolMessage).status, 'error');
    assert.deepEqual(ran, []);
    assert.equal(decider.asked.at(-1)!.input, 'ACME');
  });
});
