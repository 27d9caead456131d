// The decision point as a process runs it: policies followed for edits, the audit log, delegation
// tokens, the engine and the decision service. `cordon serve` and `cordon mcp serve` both use it.

import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/log.js';
import type { CordonConfig } from '../config/config.js';
import { Engine } from '../core/engine.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import { RevocationStore } from '../identity/revocations.js';
import { loadTokenKeys, type TokenKey } from '../identity/token-keys.js';
import { TokenService } from '../identity/tokens.js';
import { LivePolicySet } from '../policy/live.js';
import { sessionStage } from '../core/stages/session.js';
import { SqliteSessionStore } from '../session/sqlite-session-store.js';
import { DecisionService } from './decisions.js';
import { Metrics } from './metrics.js';

export interface Pdp {
  policies: LivePolicySet;
  audit: AuditLog | undefined;
  tokens: TokenService;
  keys: TokenKey[];
  revocations: RevocationStore;
  metrics: Metrics;
  decisions: DecisionService;
  close(): Promise<void>;
}

export async function openPdp(config: CordonConfig, log: Logger): Promise<Pdp> {
  await mkdir(config.data, { recursive: true });
  const policies = await LivePolicySet.open(config.policies, { engine: config.engine });
  logEngine(log, policies.current());
  const metrics = new Metrics();
  let audit: AuditLog | undefined;
  let revocations: RevocationStore | undefined;
  let sessions: SqliteSessionStore | undefined;
  try {
    const { enabled, ...auditOptions } = config.audit;
    audit = enabled
      ? await AuditLog.open(config.data, {
          ...auditOptions,
          onError: (err) => log.error({ err }, 'audit checkpoint failed'),
        })
      : undefined;
    policies.on('reload', (e) => {
      metrics.reloads.inc({ result: 'ok' });
      log.info(e, 'policies reloaded');
    });
    policies.on('error', (e) => {
      metrics.reloads.inc({ result: 'error' });
      log.error({ errors: e.errors }, 'policy reload failed; the last good set keeps serving');
    });
    if (config.watch) await policies.watch();
    const keys = await loadTokenKeys(config.data);
    revocations = new RevocationStore(config.data);
    const tokens = new TokenService(keys, revocations, config.tokens.audience);
    sessions = new SqliteSessionStore(config.data, config.sessions.windowSeconds * 1000);
    const engine = new Engine({
      policies,
      riskTiers: config.risk,
      tokens,
      stages: [sessionStage(sessions)],
    });
    const decisions = new DecisionService(engine, metrics, log, audit, sessions);
    const opened = revocations;
    const openedSessions = sessions;
    return {
      policies,
      audit,
      tokens,
      keys,
      revocations,
      metrics,
      decisions,
      async close() {
        await policies.close();
        await audit?.close();
        opened.close();
        openedSessions.close();
      },
    };
  } catch (e) {
    await policies.close();
    await audit?.close();
    revocations?.close();
    sessions?.close();
    throw e;
  }
}

/** Says which evaluator decides, and which policies the compiled one leaves to cedar-wasm and why. */
export function logEngine(log: Logger, set: CompiledPolicySet): void {
  if (set.engine === 'wasm') {
    log.info({ engine: 'wasm' }, 'Cedar engine: cedar-wasm');
    return;
  }
  for (const f of set.fallbacks)
    log.warn(
      { engine: 'compiled', policy: f.policy, reason: f.reason },
      'policy evaluated by cedar-wasm: the compiled engine does not accept it',
    );
  log.info(
    { engine: 'compiled', policies: set.size, fallback: set.fallbacks.length },
    'Cedar engine: compiled',
  );
}
