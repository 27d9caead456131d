// cordon/sdk/ai with the real Vercel AI SDK: generateText and streamText run their tool loop
// against a local model speaking the OpenAI Responses wire format, which proposes the calls.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool, type ToolSet } from 'ai';
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
import { cordonTool, cordonTools } from './ai.js';

let provider: FakeProvider;
let decider: Awaited<ReturnType<typeof exampleDecider>>;
let model: ReturnType<ReturnType<typeof createOpenAI>>;

before(async () => {
  provider = await startFakeProvider();
  decider = await exampleDecider();
  model = createOpenAI({ baseURL: `${provider.url}/v1`, apiKey: 'local' })(MODEL);
});
after(() => provider.close());

function erpTools(ran: Ran[]) {
  const f = erpFunctions(ran);
  return {
    read_ledger: tool({
      description: DESCRIPTIONS.read_ledger,
      inputSchema: z.object({ account: z.string() }),
      execute: f.read_ledger,
    }),
    wire_transfer: tool({
      description: DESCRIPTIONS.wire_transfer,
      inputSchema: z.object({ to: z.string(), amountEur: z.number() }),
      execute: f.wire_transfer,
    }),
    delete_vendor: tool({
      description: DESCRIPTIONS.delete_vendor,
      inputSchema: z.object({ vendor: z.string() }),
      execute: f.delete_vendor,
    }),
  };
}

const guarded = (ran: Ran[], d: Decider = decider) =>
  cordonTools(d, erpTools(ran), { server: SERVER, agent: AGENT });

const run = (tools: ToolSet, prompt: string) =>
  generateText({ model, tools, prompt, stopWhen: stepCountIs(4) });

describe('cordon/sdk/ai (Vercel AI SDK)', () => {
  it('runs an allowed tool call and the model reads its result', async () => {
    const ran: Ran[] = [];
    const r = await run(guarded(ran), ASK.read);
    assert.deepEqual(ran, [{ tool: 'read_ledger', args: { account: '4711' } }]);
    assert.equal(r.text, `tool results: ${LEDGER}`);
    const req = decider.asked.at(-1)!;
    assert.equal(req.action, 'invokeTool');
    assert.deepEqual(req.resource.type, 'Tool');
    assert.equal(req.resource.id, 'erp/read_ledger');
    assert.deepEqual(req.resource.parents, [{ type: 'McpServer', id: 'erp' }]);
    assert.deepEqual(req.input, { account: '4711' });
    assert.equal(req.agent, AGENT);
  });

  it('refuses a denied call: the tool does not run, the loop goes on and the model reads why', async () => {
    const ran: Ran[] = [];
    const r = await run(guarded(ran), ASK.delete);
    assert.deepEqual(ran, []);
    assert.match(
      r.text,
      /^tool results: Cordon denied invokeTool on Tool::"erp\/delete_vendor" \(decision [\w-]+\).*do not retry it/,
    );
    const errors = r.steps.flatMap((s) => s.content).filter((p) => p.type === 'tool-error');
    assert.equal(errors.length, 1);
    const error = (errors[0] as { error: unknown }).error;
    assert.ok(error instanceof CordonDeniedError);
    assert.equal(error.code, 'CORDON_DENIED');
    assert.ok(error.decisionId);
  });

  it('reports require_approval as waiting for a person, and does not run the tool', async () => {
    const ran: Ran[] = [];
    const r = await run(guarded(ran), ASK.wire);
    assert.deepEqual(ran, []);
    assert.match(
      r.text,
      /needs a human's approval.*irreversible-needs-approval.*once a person has approved/,
    );
  });

  it('decides each of several calls in one step on its own', async () => {
    const ran: Ran[] = [];
    const r = await run(guarded(ran), `${ASK.read} ${ASK.delete}`);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['read_ledger'],
    );
    const [first, second] = r.text.replace('tool results: ', '').split(' | ');
    assert.equal(first, LEDGER);
    assert.match(second!, /^Cordon denied/);
  });

  it('streamText: a denied call is a tool-error part of the stream, not a thrown error', async () => {
    const ran: Ran[] = [];
    const s = streamText({
      model,
      tools: guarded(ran),
      prompt: ASK.delete,
      stopWhen: stepCountIs(4),
    });
    const parts: string[] = [];
    for await (const p of s.fullStream) parts.push(p.type);
    assert.ok(parts.includes('tool-error'), parts.join());
    assert.match(await s.text, /^tool results: Cordon denied/);
    assert.deepEqual(ran, []);
  });

  it('refuses every call when the decision point cannot answer', async () => {
    const ran: Ran[] = [];
    const r = await run(guarded(ran, brokenDecider), ASK.read);
    assert.deepEqual(ran, []);
    assert.match(r.text, /Cordon could not decide .*ECONNREFUSED.*The tool was not run/);
  });

  it('without the adapter the same denied call runs (the scenario needs Cordon)', async () => {
    const ran: Ran[] = [];
    const r = await run(erpTools(ran), ASK.delete);
    assert.deepEqual(
      ran.map((x) => x.tool),
      ['delete_vendor'],
    );
    assert.equal(r.text, 'tool results: deleted ACME');
  });

  it('reads a streaming execute to its end and returns the final result', async () => {
    const ran: Ran[] = [];
    const streaming = tool({
      inputSchema: z.object({ account: z.string() }),
      async *execute({ account }) {
        ran.push({ tool: 'read_ledger', args: { account } });
        yield 'reading…';
        yield `ledger ${account}: balance 1200 EUR`;
      },
    });
    const tools = {
      read_ledger: cordonTool(decider, 'read_ledger', streaming, { server: SERVER, agent: AGENT }),
    };
    const r = await run(tools, ASK.read);
    assert.equal(r.text, `tool results: ${LEDGER}`);
  });

  it('refuses to wrap a tool it cannot guard unless told to pass it through', () => {
    const clientSide = { inputSchema: z.object({}) } as ToolSet[string];
    assert.throws(
      () => cordonTools(decider, { ask_user: clientSide }, { server: SERVER }),
      /"ask_user" has no execute function/,
    );
    const out = cordonTools(
      decider,
      { ask_user: clientSide },
      { server: SERVER, unguarded: ['ask_user'] },
    );
    assert.equal(out.ask_user, clientSide);
    assert.throws(() => cordonTools(decider, {}, {} as never), /options.server/);
  });
});
