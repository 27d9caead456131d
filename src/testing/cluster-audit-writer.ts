// Child process for the cluster log's crash test: one node appending decisions to the log in
// PostgreSQL as fast as it can, printing each decision id once its append is acknowledged (and
// "sequencer" once it holds the sequencer lock), until it is killed.

import { ClusterAuditLog } from '../audit/cluster/log.js';
import { CRASH_REQUEST as request } from './audit-log.js';
import { exampleEngine } from './fixtures.js';

const [url, schema, dataDir, signingKey] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const log = await ClusterAuditLog.open(
  { url, schema },
  { dataDir, signingKey, checkpointIntervalMs: 50, lockRetryMs: 100 },
);
const engine = await exampleEngine();
let told = false;
for (;;) {
  if (!told && log.isSequencer) {
    told = true;
    process.stdout.write('sequencer\n');
  }
  const traces = await Promise.all(Array.from({ length: 20 }, () => engine.trace(request)));
  await Promise.all(
    traces.map(async (t) => {
      await log.append(t);
      process.stdout.write(`${t.decision.decisionId}\n`);
    }),
  );
}
