// `cordon audit verify` for the demo's tampered-audit story, in process: the same verification
// (every record rehashed into the Merkle tree, checked against the signed checkpoints) on a data
// directory, with the verifier key the demo pinned outside it.

import { join } from 'node:path';
import { readVerifierKey } from '../audit/keys.js';
import { AUDIT_DB } from '../audit/log.js';
import { SqliteAuditStore } from '../audit/sqlite-store.js';
import { verifyStore } from '../audit/verify.js';

export interface DemoVerify {
  ok: boolean;
  /** The first bad index, when the log was tampered with. */
  index?: number;
  /** What `cordon audit verify` would print. */
  text: string;
}

export async function verifyDataDir(data: string, vkeyFile: string): Promise<DemoVerify> {
  const key = await readVerifierKey(vkeyFile);
  const store = new SqliteAuditStore(join(data, AUDIT_DB), { readonly: true });
  try {
    const origin = await store.getMeta('origin');
    if (!origin) return { ok: false, text: 'the audit log has no origin: not a Cordon log' };
    const r = await verifyStore(store, key, origin);
    if (!r.ok)
      return {
        ok: false,
        ...(r.problem?.index !== undefined ? { index: r.problem.index } : {}),
        text: `TAMPERED at index ${String(r.problem?.index)}: ${r.problem?.message ?? ''}`,
      };
    return {
      ok: true,
      text: `ok: ${r.records} records, ${r.checkpoints} checkpoints verified; newest at size ${String(r.signedSize)}`,
    };
  } finally {
    store.close();
  }
}
