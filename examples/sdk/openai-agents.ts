// Cordon in an OpenAI Agents SDK agent (docs/sdk/openai-agents.md). The agent `ledger-bot` of
// the example policies has three ERP tools: reading the ledger is allowed, a wire transfer waits
// for a person's approval, deleting a vendor is denied. Cordon decides each call in this process
// (the embedded decision point, its audit log in CORDON_DATA); a refusal is the tool's output,
// which the model reads, and the run goes on.
//
//   OPENAI_API_KEY=… npx tsx examples/sdk/openai-agents.ts ["your prompt"]
//
// OPENAI_BASE_URL points it at any OpenAI-compatible server instead (tracing is then off: it
// would export to OpenAI).

import { fileURLToPath } from 'node:url';
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';
import { openEmbedded } from 'cordon/sdk';
import { cordonTools } from 'cordon/sdk/openai-agents';

if (process.env.OPENAI_BASE_URL) {
  setDefaultOpenAIClient(new OpenAI({ baseURL: process.env.OPENAI_BASE_URL }));
  setTracingDisabled(true);
}

const cordon = await openEmbedded({
  policies: fileURLToPath(new URL('../policies', import.meta.url)),
  data: process.env.CORDON_DATA ?? '.cordon-example',
});

const tools = cordonTools(
  cordon,
  [
    tool({
      name: 'read_ledger',
      description: 'Read the ledger of an account',
      parameters: z.object({ account: z.string() }),
      execute: async ({ account }) => `ledger ${account}: balance 1200 EUR`,
    }),
    tool({
      name: 'wire_transfer',
      description: 'Wire money to a payee',
      parameters: z.object({ to: z.string(), amountEur: z.number() }),
      execute: async ({ to, amountEur }) => `sent ${amountEur} EUR to ${to}`,
    }),
    tool({
      name: 'delete_vendor',
      description: 'Delete a vendor from the ERP',
      parameters: z.object({ vendor: z.string() }),
      execute: async ({ vendor }) => `deleted ${vendor}`,
    }),
  ],
  // Tool::"erp/read_ledger" …, as the MCP gateway names the tools of an MCP server "erp".
  { server: 'erp', agent: 'ledger-bot' },
);

try {
  const agent = new Agent({
    name: 'ledger assistant',
    instructions: 'Use the ERP tools to do what the user asks.',
    model: process.env.MODEL ?? 'gpt-4.1-mini',
    tools,
  });
  const result = await run(
    agent,
    process.argv[2] ??
      'Read the ledger of account 4711, wire 5000 EUR to ACME, then delete the vendor ACME.',
  );
  for (const item of result.newItems)
    if (item.type === 'tool_call_output_item') {
      const name = (item.rawItem as { name?: string }).name;
      const out = String(item.output);
      console.log(`${out.startsWith('Cordon') ? 'refused' : 'ran    '} ${name}: ${out}`);
    }
  console.log(`model:  ${String(result.finalOutput)}`);
} finally {
  await cordon.close();
}
