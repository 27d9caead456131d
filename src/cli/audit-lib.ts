// What the audit commands use, in one module so that audit-commands.ts can load it when an
// audit command runs rather than when the command tree is built.

export { SingleBar } from 'cli-progress';
export { checkInclusionBundle } from '../audit/check-proof.js';
export { isInside, keyPaths, readVerifierKey } from '../audit/keys.js';
export { parseVerifierKey } from '../audit/note.js';
export { AUDIT_DB, inclusionBundle, treeFromReader } from '../audit/log.js';
export { toOcsf } from '../audit/ocsf.js';
export { replaySession, whatIf, whatIfJson } from '../audit/replay.js';
export { SqliteAuditStore } from '../audit/sqlite-store.js';
export { verifyStore } from '../audit/verify.js';
export { appendWitnessFile, readWitnessFile } from '../audit/witness-file.js';
export { formatLocated } from '../core/source-location.js';
export { formatShadowReport, shadowReport } from '../risk/shadow-report.js';
export { loadPolicyDir } from '../policy/load.js';
