// `cordon serve`: the PDP and its HTTP API.

import { pino, type Logger } from 'pino';
import type { CordonConfig } from '../config/config.js';
import type { LivePolicySet } from '../policy/live.js';
import { buildApp } from './app.js';
import { openPdp } from './pdp.js';

export interface RunningServer {
  url: string;
  port: number;
  policies: LivePolicySet;
  close(): Promise<void>;
}

export async function startServer(config: CordonConfig, logger?: Logger): Promise<RunningServer> {
  const log = logger ?? pino({ level: config.log.level, base: { svc: 'cordon' } });
  const pdp = await openPdp(config, log);
  const { policies, audit, decisions, metrics, tokens, keys, revocations } = pdp;
  const app = buildApp({
    decisions,
    metrics,
    logger: log,
    bodyLimit: config.bodyLimit,
    identity: { tokens, keys, revocations },
    reloadError: () => policies.lastError?.message,
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    await pdp.close();
    throw e;
  }
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
      await pdp.close();
    },
  };
}
