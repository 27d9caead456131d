// `cordon serve`: policies from a directory (followed for edits), the PDP and its HTTP API.

import { mkdir } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { AuditLog } from '../audit/log.js';
import { RevocationStore } from '../identity/revocations.js';
import { loadTokenKeys } from '../identity/token-keys.js';
import { TokenService } from '../identity/tokens.js';
import type { CordonConfig } from '../config/config.js';
import { Engine } from '../core/engine.js';
import { LivePolicySet } from '../policy/live.js';
import { buildApp } from './app.js';
import { DecisionService } from './decisions.js';
import { Metrics } from './metrics.js';

export interface RunningServer {
  url: string;
  port: number;
  policies: LivePolicySet;
  close(): Promise<void>;
}

export async function startServer(config: CordonConfig, logger?: Logger): Promise<RunningServer> {
  const log = logger ?? pino({ level: config.log.level, base: { svc: 'cordon' } });
  await mkdir(config.data, { recursive: true });
  const policies = await LivePolicySet.open(config.policies);
  const { enabled, ...auditOptions } = config.audit;
  const audit = enabled
    ? await AuditLog.open(config.data, {
        ...auditOptions,
        onError: (err) => log.error({ err }, 'audit checkpoint failed'),
      })
    : undefined;
  const metrics = new Metrics();
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
  const revocations = new RevocationStore(config.data);
  const tokens = new TokenService(keys, revocations, config.tokens.audience);
  const engine = new Engine({ policies, riskTiers: config.risk, tokens });
  const decisions = new DecisionService(engine, metrics, log, audit);
  const app = buildApp({
    decisions,
    metrics,
    logger: log,
    bodyLimit: config.bodyLimit,
    identity: { tokens, keys, revocations },
    reloadError: () => policies.lastError?.message,
  });
  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const current = policies.current();
  log.info(
    {
      port,
      policyVersion: current.version,
      policies: current.size,
      audit: audit ? { records: audit.size, key: audit.verifierKey } : 'off',
    },
    'cordon serving',
  );
  return {
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    port,
    policies,
    async close() {
      await app.close();
      await policies.close();
      await audit?.close();
      revocations.close();
    },
  };
}
