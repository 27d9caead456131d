// npm run bench [-- --quick]: every benchmark, each given the same arguments.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
let failed = false;
for (const bench of [
  'decide',
  'telemetry',
  'audit',
  'mcp',
  'inspect',
  'llm',
  'kernel',
  'store',
  'isolation',
  'baseline',
  'audit-cluster',
  'cluster',
  'sdk',
  'ext-authz',
  'cli',
  'console',
]) {
  // mcp.bench prints warnings itself, less the SDK client's listener-count ones.
  const flags = ['--expose-gc', ...(bench === 'mcp' ? ['--no-warnings'] : [])];
  const r = spawnSync(process.execPath, [...flags, `dist/bench/${bench}.bench.js`, ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
