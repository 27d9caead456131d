// The scenario every framework adapter test plays (src/sdk/adapters/*.test.ts): the finance
// agent `ledger-bot` of the example policies holds three ERP tools. Reading the ledger is
// allowed (erp/read_ledger is in ToolSet finance-readonly), a wire transfer needs a person's
// approval (it is irreversible: approvals.cedar), and deleting a vendor is permitted by no
// policy. Each tool records that it ran, so a test can tell a refused call from one that ran.
// The local model (demo/model-server.ts) proposes the calls the prompt scripts.

import type { Decider } from '../sdk/guard.js';
import type { ActionRequest, Decision } from '../core/types.js';
import { exampleEngine } from './fixtures.js';

export const AGENT = 'ledger-bot';
export const SERVER = 'erp';
export const MODEL = 'gpt-4.1-mini';

/** Prompts that make the local model propose one tool call (or several, in one turn). */
export const ASK = {
  read: '[tool:read_ledger:{"account":"4711"}]',
  wire: '[tool:wire_transfer:{"to":"ACME","amountEur":5000}]',
  delete: '[tool:delete_vendor:{"vendor":"ACME"}]',
} as const;

export const LEDGER = 'ledger 4711: balance 1200 EUR';

export interface Ran {
  tool: string;
  args: unknown;
}

/** The three tools' bodies, recording each run in `ran`. */
export function erpFunctions(ran: Ran[]) {
  return {
    read_ledger: async (args: { account: string }) => {
      ran.push({ tool: 'read_ledger', args });
      return `ledger ${args.account}: balance 1200 EUR`;
    },
    wire_transfer: async (args: { to: string; amountEur: number }) => {
      ran.push({ tool: 'wire_transfer', args });
      return `sent ${args.amountEur} EUR to ${args.to}`;
    },
    delete_vendor: async (args: { vendor: string }) => {
      ran.push({ tool: 'delete_vendor', args });
      return `deleted ${args.vendor}`;
    },
  };
}

export const DESCRIPTIONS = {
  read_ledger: 'Read the ledger of an account',
  wire_transfer: 'Wire money to a payee',
  delete_vendor: 'Delete a vendor from the ERP',
} as const;

/** The example policies in this process, with every request it was asked kept in `asked`. */
export async function exampleDecider(): Promise<Decider & { asked: ActionRequest[] }> {
  const engine = await exampleEngine();
  const asked: ActionRequest[] = [];
  return {
    asked,
    decide(request: ActionRequest): Promise<Decision> {
      asked.push(request);
      return engine.decide(request);
    },
  };
}

/** A decision point that cannot answer (down): every guarded call must be refused. */
export const brokenDecider: Decider = {
  decide: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8181')),
};
