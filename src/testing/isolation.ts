// Test helper: in-process decisions under the MCP test policy directory with the isolation
// stage and responses wired as `cordon serve` wires them, over a real IsolationService on an
// SQLite store in a temporary directory.

import { pino } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { Engine } from '../core/engine.js';
import type { RiskTiers } from '../core/risk.js';
import { isolationStage } from '../core/stages/isolation.js';
import { DEFAULT_ISOLATION, type IsolationConfig } from '../isolation/config.js';
import { auditRecorder } from '../isolation/audit.js';
import { isolationResponder } from '../isolation/responses.js';
import { IsolationService, type IsolationServiceOptions } from '../isolation/service.js';
import { SqliteIsolationStore } from '../store/sqlite/isolation.js';
import { LocalChangeBus } from '../store/sqlite/bus.js';
import { loadPolicyDir } from '../policy/load.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { tempDir } from './fixtures.js';
import { mcpPolicyDir } from './mcp.js';

export async function isolatedDecisions(
  policies: string,
  o: {
    log?: AuditLog;
    riskTiers?: RiskTiers;
    config?: Partial<IsolationConfig>;
    service?: Partial<IsolationServiceOptions>;
  } = {},
) {
  const dir = await mcpPolicyDir(policies);
  const compiled = await loadPolicyDir(dir);
  if (!compiled.ok) throw new Error(JSON.stringify(compiled));
  const set = compiled.set;
  const store = new SqliteIsolationStore(await tempDir('cordon-isolation-'));
  const isolation = await IsolationService.open({
    store,
    bus: new LocalChangeBus(),
    knownAgent: (a) => set.store.get('Agent', a) !== undefined,
    ...(o.log ? { record: auditRecorder(o.log, { current: () => set }) } : {}),
    ...o.service,
  });
  const engine = new Engine({
    policies: { current: () => set },
    stages: [isolationStage(isolation)],
    ...(o.riskTiers ? { riskTiers: o.riskTiers } : {}),
  });
  const decisions = new DecisionService(
    engine,
    new Metrics(),
    pino({ level: 'silent' }),
    o.log,
    undefined,
    undefined,
    isolationResponder(isolation, { ...DEFAULT_ISOLATION, ...o.config }),
  );
  return {
    dir,
    decisions,
    isolation,
    close() {
      isolation.close();
      store.close();
    },
  };
}
