// Cordon in a Vercel AI SDK agent (docs/sdk/ai-sdk.md). The agent `ledger-bot` of the example
// policies has three ERP tools: reading the ledger is allowed, a wire transfer waits for a
// person's approval, deleting a vendor is denied. Cordon decides each call in this process
// (the embedded decision point, its audit log in CORDON_DATA); the model reads every refusal
// as a tool error and answers on.
//
//   OPENAI_API_KEY=… npx tsx examples/sdk/ai-sdk.ts ["your prompt"]
//
// OPENAI_BASE_URL points it at any OpenAI-compatible server instead.

import { fileURLToPath } from 'node:url';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';
import { openEmbedded } from 'cordon/sdk';
import { cordonTools } from 'cordon/sdk/ai';

const cordon = await openEmbedded({
  policies: fileURLToPath(new URL('../policies', import.meta.url)),
  data: process.env.CORDON_DATA ?? '.cordon-example',
});

const tools = cordonTools(
  cordon,
  {
    read_ledger: tool({
      description: 'Read the ledger of an account',
      inputSchema: z.object({ account: z.string() }),
      execute: async ({ account }) => `ledger ${account}: balance 1200 EUR`,
    }),
    wire_transfer: tool({
      description: 'Wire money to a payee',
      inputSchema: z.object({ to: z.string(), amountEur: z.number() }),
      execute: async ({ to, amountEur }) => `sent ${amountEur} EUR to ${to}`,
    }),
    delete_vendor: tool({
      description: 'Delete a vendor from the ERP',
      inputSchema: z.object({ vendor: z.string() }),
      execute: async ({ vendor }) => `deleted ${vendor}`,
    }),
  },
  // Tool::"erp/read_ledger" …, as the MCP gateway names the tools of an MCP server "erp".
  { server: 'erp', agent: 'ledger-bot' },
);

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL });
try {
  const result = await generateText({
    model: openai(process.env.MODEL ?? 'gpt-4.1-mini'),
    tools,
    stopWhen: stepCountIs(5),
    prompt:
      process.argv[2] ??
      'Read the ledger of account 4711, wire 5000 EUR to ACME, then delete the vendor ACME.',
  });
  for (const part of result.steps.flatMap((s) => s.content)) {
    if (part.type === 'tool-result')
      console.log(`ran     ${part.toolName}: ${String(part.output)}`);
    if (part.type === 'tool-error')
      console.log(`refused ${part.toolName}: ${(part.error as Error).message}`);
  }
  console.log(`model:  ${result.text}`);
} finally {
  await cordon.close();
}
