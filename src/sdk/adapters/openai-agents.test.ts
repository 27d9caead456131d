// cordon/sdk/openai-agents with the real OpenAI Agents SDK: run() drives an Agent whose model is
// the SDK's own Responses (and chat completions) model over the official openai client, against
// a local model that proposes the calls. Tracing is off: nothing leaves the machine.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  Agent,
  OpenAIChatCompletionsModel,
  OpenAIResponsesModel,
  run,
  setTracingDisabled,
  tool,
  webSearchTool,
  type Tool,
  type Model,
} from '@openai/agents';
import OpenAI from 'openai';
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
import type { Decider } from '../guard.js';
import { cordonTool, cordonTools, guardedTool } from './openai-agents.js';

let provider: FakeProvider;
let decider: Awaited<ReturnType<typeof exampleDecider>>;
let client: OpenAI;

before(async () => {
  setTracingDisabled(true);
  provider = await startFakeProvider();
  decider = await exampleDecider();
  client = new OpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'local', maxRetries: 0 });
});
after(() => provider.close());

function erpTools(ran: Ran[]) {
  const f = erpFunctions(ran);
  return [
    tool({
      name: 'read_ledger',
      description: DESCRIPTIONS.read_ledger,
      parameters: z.object({ account: z.string() }),
      execute: f.read_ledger,
    }),
    tool({
      name: 'wire_transfer',
      description: DESCRIPTIONS.wire_transfer,
      parameters: z.object({ to: z.string(), amountEur: z.number() }),
      execute: f.wire_transfer,
    }),
    tool({
      name: 'delete_vendor',
      description: DESCRIPTIONS.delete_vendor,
      parameters: z.object({ vendor: z.string() }),
      execute: f.delete_vendor,
    }),
  ];
}

const guarded = (ran: Ran[], d: Decider = decider) =>
  cordonTools(d, erpTools(ran), { server: SERVER, agent: AGENT });

async function runAgent(tools: Tool[], prompt: string, model?: Model) {
  const agent = new Agent({
    name: 'ledger assistant',
    instructions: 'Use the ERP tools to answer.',
    model: model ?? new OpenAIResponsesModel(client, MODEL),
    tools,
  });
  return run(agent, prompt, { maxTurns: 4 });
}

describe('cordon/sdk/openai-agents (OpenAI Agents SDK)', () => {
  it('runs an allowed tool call and the model reads its result', async () => {
    const ran: Ran[] = [];
    const r = await runAgent(guarded(ran), ASK.read);
    assert.deepEqual(ran, [{ tool: 'read_ledger', args: { account: '4711' } }]);
    assert.equal(r.finalOutput, `tool results: ${LEDGER}`);
    const req = decider.asked.at(-1)!;
    assert.equal(req.resource.id, 'erp/read_ledger');
    assert.deepEqual(req.input, { account: '4711' });
    assert.equal(req.agent, AGENT);
  });

  it('answers a denied call with the refusal as its output; the tool does not run, the run goes on', async () => {
    const ran: Ran[] = [];
    const r = await runAgent(guarded(ran), ASK.delete);
    assert.deepEqual(ran, []);
    assert.match(
      String(r.finalOutput),
      /^tool results: Cordon denied invokeTool on Tool::"erp\/delete_vendor" \(decision [\w-]+\).*do not retry it/,
    );
    const outputs = r.newItems.filter((i) => i.type === 'tool_call_output_item');
    assert.equal(outputs.length, 1);
    assert.match(String((outputs[0] as { output: unknown }).output), /^Cordon denied/);
  });

  it('reports require_approval as waiting for a person', async () => {
    const ran: Ran[] = [];
    const r = await runAgent(guarded(ran), ASK.wire);
    assert.deepEqual(ran, []);
    assert.match(String(r.finalOutput), /needs a human's approval.*once a person has approved/);
  });

  it('decides parallel calls each on its own, over chat completions too', async () => {
    const ran: Ran[] = [];
    const model = new OpenAIChatCompletionsModel(client, MODEL);
    const r = await runAgent(guarded(ran), `${ASK.read} ${ASK.delete}`, model);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['read_ledger'],
    );
    assert.match(String(r.finalOutput), new RegExp(`^tool results: ${LEDGER} \\| Cordon denied`));
  });

  it('decides arguments that are not JSON on their text, and refuses them', async () => {
    const ran: Ran[] = [];
    const [, , del] = guarded(ran);
    const out = await del!.invoke({} as never, '{"vendor": ', undefined);
    assert.match(String(out), /^Cordon denied/);
    assert.equal(decider.asked.at(-1)!.input, '{"vendor": ');
    assert.deepEqual(ran, []);
  });

  it('refuses every call when the decision point cannot answer', async () => {
    const ran: Ran[] = [];
    const r = await runAgent(guarded(ran, brokenDecider), ASK.read);
    assert.deepEqual(ran, []);
    assert.match(String(r.finalOutput), /Cordon could not decide .*ECONNREFUSED/);
  });

  it('without the adapter the same denied call runs (the scenario needs Cordon)', async () => {
    const ran: Ran[] = [];
    const r = await runAgent(erpTools(ran), ASK.delete);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['delete_vendor'],
    );
    assert.equal(r.finalOutput, 'tool results: deleted ACME');
  });

  it('guardedTool builds the tool with its function guarded: allowed runs, denied reads as a refusal', async () => {
    const ran: Ran[] = [];
    const f = erpFunctions(ran);
    const opts = { server: SERVER, agent: AGENT };
    const tools = [
      guardedTool(
        decider,
        {
          name: 'read_ledger',
          description: DESCRIPTIONS.read_ledger,
          parameters: z.object({ account: z.string() }),
          execute: f.read_ledger,
        },
        opts,
      ),
      guardedTool(
        decider,
        {
          name: 'delete_vendor',
          description: DESCRIPTIONS.delete_vendor,
          parameters: z.object({ vendor: z.string() }),
          execute: f.delete_vendor,
        },
        opts,
      ),
    ];
    const r = await runAgent(tools, `${ASK.read} ${ASK.delete}`);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['read_ledger'],
    );
    // The refusal, not the SDK's "An error occurred … Please try again".
    assert.match(
      String(r.finalOutput),
      new RegExp(`^tool results: ${LEDGER} \\| Cordon denied .*do not retry it\\.$`),
    );
    assert.equal(decider.asked.at(-1)!.resource.id, 'erp/delete_vendor');
    assert.deepEqual(decider.asked.at(-1)!.input, { vendor: 'ACME' });
  });

  it("guardedTool keeps the tool's own error function for its own failures", async () => {
    const t = guardedTool(
      decider,
      {
        name: 'read_ledger',
        description: DESCRIPTIONS.read_ledger,
        parameters: z.object({ account: z.string() }),
        execute: async () => {
          throw new Error('ledger offline');
        },
        errorFunction: (_ctx, e) => `sorry: ${(e as Error).message}`,
      },
      { server: SERVER, agent: AGENT },
    );
    const r = await runAgent([t], ASK.read);
    assert.equal(r.finalOutput, 'tool results: sorry: ledger offline');
  });

  it('refuses to wrap a hosted tool unless told to pass it through', () => {
    const search = webSearchTool();
    assert.throws(
      () => cordonTools(decider, [search], { server: SERVER }),
      /"web_search" is not a function tool \(type "hosted_tool"\)/,
    );
    const [same] = cordonTools(decider, [search], { server: SERVER, unguarded: ['web_search'] });
    assert.equal(same, search);
    assert.throws(() => cordonTool(decider, search as never, { server: SERVER }), /function tool/);
  });
});
