// npm run bench [-- --quick]: every benchmark, each given the same arguments.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
let failed = false;
for (const bench of ['decide', 'audit', 'mcp', 'inspect', 'llm', 'kernel']) {
  const r = spawnSync(process.execPath, ['--expose-gc', `dist/bench/${bench}.bench.js`, ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
