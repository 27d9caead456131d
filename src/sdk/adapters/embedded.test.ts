// The adapters with the embedded decision point (sdk/embedded.ts), end to end in a real agent
// loop: a person's approval lets a waiting call run, redaction obligations reach what the model
// reads, a tool that fails after it was allowed is recorded, and every decision is in the audit
// log as the SDK's (pep "sdk") on the resource the MCP gateway would name.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { tool as lcTool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { Agent, OpenAIResponsesModel, run, setTracingDisabled } from '@openai/agents';
import { generateText, stepCountIs, tool } from 'ai';
import { createAgent } from 'langchain';
import OpenAI from 'openai';
import { z } from 'zod';
import type { AuditRecord } from '../../audit/record.js';
import { startFakeProvider, type FakeProvider } from '../../demo/model-server.js';
import { AGENT, ASK, MODEL, SERVER } from '../../testing/agent-tools.js';
import { tempDir } from '../../testing/fixtures.js';
import { sdkPolicies } from '../../testing/sdk.js';
import { EmbeddedDecider } from '../embedded.js';
import { cordonTools as aiTools } from './ai.js';
import { cordonTools as lcTools } from './langchain.js';
import { guardedTool } from './openai-agents.js';

let provider: FakeProvider;
let decider: EmbeddedDecider;

before(async () => {
  setTracingDisabled(true);
  provider = await startFakeProvider();
  decider = await EmbeddedDecider.open({
    policies: await sdkPolicies(),
    data: await tempDir('cordon-adapters-data-'),
  });
});
after(async () => {
  await decider.close();
  await provider.close();
});

async function records(): Promise<AuditRecord[]> {
  const rows = await decider.pdp.audit!.store.tail(50);
  return rows.map((r) => JSON.parse(r.record) as AuditRecord);
}

describe('the adapters with the embedded decision point', () => {
  it('AI SDK: a call waiting for approval runs once a person approves it, and the model reads its result', async () => {
    let ran = 0;
    const tools = aiTools(
      decider,
      {
        wire_transfer: tool({
          inputSchema: z.object({ to: z.string(), amountEur: z.number() }),
          execute: async ({ to, amountEur }) => (ran++, `sent ${amountEur} EUR to ${to}`),
        }),
      },
      { server: SERVER, agent: AGENT, approval: { wait: true, timeoutMs: 120_000 } },
    );
    const model = createOpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'local' })(MODEL);
    const loop = generateText({ model, tools, prompt: ASK.wire, stopWhen: stepCountIs(3) });
    let pending;
    while (!(pending = (await decider.listApprovals({ status: 'pending' }))[0]))
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(pending.request.resource.id, 'erp/wire_transfer');
    assert.equal(ran, 0);
    await decider.answer(pending.id, 'approved', 'carol');
    const r = await loop;
    assert.equal(ran, 1);
    assert.equal(r.text, 'tool results: sent 5000 EUR to ACME');
    const mine = (await records()).filter((x) => x.resource?.id === 'erp/wire_transfer');
    assert.deepEqual(
      mine.map((x) => [x.pep, x.action, x.decision]),
      [
        ['sdk', 'invokeTool', 'require_approval'],
        ['sdk', 'invokeTool', 'allow'],
        // The example policies decide tool results: the result, read before the model saw it.
        ['sdk', 'readToolResult', 'allow'],
      ],
    );
  });

  it("LangChain: the decision's redaction applies to what the model reads", async () => {
    const lookup = lcTool(async ({ id }) => `customer ${id}: reach them at jane.doe@example.com`, {
      name: 'lookup',
      schema: z.object({ id: z.string() }),
    });
    const chat = new ChatOpenAI({
      model: MODEL,
      apiKey: 'local',
      configuration: { baseURL: `${provider.url}/v1` },
    });
    const agent = createAgent({
      model: chat,
      tools: lcTools(decider, [lookup], { server: 'crm', agent: 'support-bot' }),
    });
    const out = await agent.invoke({
      messages: [new HumanMessage('[tool:lookup:{"id":"c-1"}]')],
    });
    const [msg] = out.messages.filter((m) => ToolMessage.isInstance(m));
    assert.equal((msg as ToolMessage).status, 'success');
    assert.doesNotMatch(String(msg!.content), /jane\.doe@example\.com/);
    assert.match(String(msg!.content), /\[REDACTED:EMAIL/);
    assert.doesNotMatch(String(out.messages.at(-1)!.content), /jane\.doe/);
  });

  it('OpenAI Agents SDK (guardedTool): a tool that fails after it was allowed is recorded as a failure of that decision', async () => {
    const client = new OpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'local', maxRetries: 0 });
    const readLedger = guardedTool(
      decider,
      {
        name: 'read_ledger',
        description: 'Read the ledger of an account',
        parameters: z.object({ account: z.string() }),
        execute: async () => {
          throw Object.assign(new Error('ledger offline'), { code: 'E_LEDGER' });
        },
      },
      { server: SERVER, agent: AGENT },
    );
    const agent = new Agent({
      name: 'ledger assistant',
      model: new OpenAIResponsesModel(client, MODEL),
      tools: [readLedger],
    });
    const r = await run(agent, ASK.read);
    // The SDK's own error function tells the model; it is no Cordon refusal.
    assert.match(String(r.finalOutput), /An error occurred while running the tool.*ledger offline/);
    const all = await records();
    const event = all.at(-1)!;
    assert.equal(event.kind, 'failure');
    const allowed = all.find((x) => x.id === event.parent);
    assert.equal(allowed?.decision, 'allow');
    assert.equal(allowed?.resource?.id, 'erp/read_ledger');
    assert.deepEqual(event.context?.failure, { error: 'Error', code: 'E_LEDGER' });
  });
});
