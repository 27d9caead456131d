// Child process for the crash test: appends decisions as fast as it can and prints each
// decision id once its append is acknowledged, until it is killed.

import { AuditLog } from '../audit/log.js';
import { CRASH_REQUEST as request } from './audit-log.js';
import { exampleEngine } from './fixtures.js';

const dir = process.argv[2]!;
const sync = process.argv[3] === 'normal' ? 'normal' : 'full';
const log = await AuditLog.open(dir, { checkpointIntervalMs: 50, sync });
const engine = await exampleEngine();
for (;;) {
  const traces = await Promise.all(Array.from({ length: 20 }, () => engine.trace(request)));
  await Promise.all(
    traces.map(async (t) => {
      await log.append(t);
      process.stdout.write(`${t.decision.decisionId}\n`);
    }),
  );
}
