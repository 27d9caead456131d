// Cordon in a LangChain.js agent (docs/sdk/langchain.md). The agent `ledger-bot` of the example
// policies has three ERP tools: reading the ledger is allowed, a wire transfer waits for a
// person's approval, deleting a vendor is denied. Cordon decides each call in this process
// (the embedded decision point, its audit log in CORDON_DATA); a refusal comes back as a
// ToolMessage with status "error", which the model reads.
//
//   OPENAI_API_KEY=… npx tsx examples/sdk/langchain.ts ["your prompt"]
//
// OPENAI_BASE_URL points it at any OpenAI-compatible server instead.

import { fileURLToPath } from 'node:url';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI } from '@langchain/openai';
import { createAgent } from 'langchain';
import { z } from 'zod';
import { openEmbedded } from 'cordon/sdk';
import { cordonTools } from 'cordon/sdk/langchain';

const cordon = await openEmbedded({
  policies: fileURLToPath(new URL('../policies', import.meta.url)),
  data: process.env.CORDON_DATA ?? '.cordon-example',
});

const tools = cordonTools(
  cordon,
  [
    tool(async ({ account }) => `ledger ${account}: balance 1200 EUR`, {
      name: 'read_ledger',
      description: 'Read the ledger of an account',
      schema: z.object({ account: z.string() }),
    }),
    tool(async ({ to, amountEur }) => `sent ${amountEur} EUR to ${to}`, {
      name: 'wire_transfer',
      description: 'Wire money to a payee',
      schema: z.object({ to: z.string(), amountEur: z.number() }),
    }),
    tool(async ({ vendor }) => `deleted ${vendor}`, {
      name: 'delete_vendor',
      description: 'Delete a vendor from the ERP',
      schema: z.object({ vendor: z.string() }),
    }),
  ],
  // Tool::"erp/read_ledger" …, as the MCP gateway names the tools of an MCP server "erp".
  { server: 'erp', agent: 'ledger-bot' },
);

const model = new ChatOpenAI({
  model: process.env.MODEL ?? 'gpt-4.1-mini',
  configuration: { baseURL: process.env.OPENAI_BASE_URL },
});
try {
  const agent = createAgent({ model, tools });
  const prompt =
    process.argv[2] ??
    'Read the ledger of account 4711, wire 5000 EUR to ACME, then delete the vendor ACME.';
  const { messages } = await agent.invoke({ messages: [new HumanMessage(prompt)] });
  for (const m of messages)
    if (ToolMessage.isInstance(m))
      console.log(
        `${m.status === 'error' ? 'refused' : 'ran    '} ${m.name}: ${String(m.content)}`,
      );
  console.log(`model:  ${String(messages.at(-1)?.content)}`);
} finally {
  await cordon.close();
}
