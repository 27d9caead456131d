// Test helpers for the audit log: a log filled with decisions, opened or closed, and verify
// run on a data directory the way `cordon audit verify` does.

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AUDIT_DB, AuditLog } from '../audit/log.js';
import type { NoteKey } from '../audit/note.js';
import { SqliteAuditStore } from '../audit/sqlite-store.js';
import { verifyLog, type VerifyOptions } from '../audit/verify.js';
import type { ActionRequest } from '../core/types.js';
import { exampleEngine, tempDir } from './fixtures.js';

export const REQUESTS: ActionRequest[] = [
  {
    agent: 'ledger-bot',
    session: 's1',
    action: 'invokeTool',
    resource: { type: 'Tool', id: 'erp/read_ledger' },
    input: { account: 42 },
  },
  {
    agent: 'director-agent',
    user: 'bob',
    session: 's1',
    action: 'invokeTool',
    resource: { type: 'Tool', id: 'postgres/drop_table' },
  },
  {
    agent: 'director-agent',
    user: 'carol',
    session: 's2',
    action: 'invokeTool',
    resource: { type: 'Tool', id: 'postgres/drop_table' },
  },
  {
    agent: 'analyst-bot',
    session: 's2',
    action: 'connectNetwork',
    resource: { type: 'NetworkDestination', id: 'paste.example.com:443' },
  },
];

/** What the crash tests' writer processes decide, over and over. */
export const CRASH_REQUEST: ActionRequest = {
  agent: 'ledger-bot',
  session: 'crash',
  action: 'invokeTool',
  resource: { type: 'Tool', id: 'erp/read_ledger' },
};

/** A log with `n` decisions and a checkpoint after every `every` records. */
export async function populatedLog(
  n: number,
  every = 5,
  options: Parameters<typeof AuditLog.open>[1] = {},
) {
  const dir = await tempDir('cordon-audit-');
  const log = await AuditLog.open(dir, { checkpointIntervalMs: 3_600_000, ...options });
  const engine = await exampleEngine();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const trace = await engine.trace(REQUESTS[i % REQUESTS.length]!);
    await log.append(trace);
    ids.push(trace.decision.decisionId);
    if ((i + 1) % every === 0) await log.checkpoint();
  }
  return { dir, log, ids, engine };
}

/** The same, closed; `db()` opens its database for writing, as an intruder would. */
export async function closedLog(
  n: number,
  every = 5,
  options: Parameters<typeof AuditLog.open>[1] = {},
) {
  const p = await populatedLog(n, every, options);
  const key = p.log.signer.key;
  const origin = p.log.origin;
  await p.log.close();
  return { ...p, key, origin, db: (): Database.Database => new Database(join(p.dir, AUDIT_DB)) };
}

export function verifyDir(dir: string, key: NoteKey, origin: string, options?: VerifyOptions) {
  const store = new SqliteAuditStore(join(dir, AUDIT_DB), { readonly: true });
  try {
    return verifyLog(store, key, origin, options);
  } finally {
    store.close();
  }
}
