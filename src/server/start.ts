// `cordon serve`: the PDP and its HTTP API. `serveApi` also lets another process that opened a
// PDP (the MCP gateway) offer the same API beside its own protocol.

import { pino, type Logger } from 'pino';
import type { CordonConfig } from '../config/config.js';
import type { LivePolicySet } from '../policy/live.js';
import { approverAuthenticator } from '../approval/approver-auth.js';
import { buildApp } from './app.js';
import { openPdp, type Pdp } from './pdp.js';
import { trustedForRequest } from './resource-trust.js';

export interface RunningServer {
  url: string;
  port: number;
  policies: LivePolicySet;
  close(): Promise<void>;
}

export interface RunningApi {
  url: string;
  port: number;
  /** Stops the HTTP server; the PDP stays open. */
  close(): Promise<void>;
}

export async function serveApi(
  pdp: Pdp,
  config: CordonConfig,
  log: Logger,
  where: { host: string; port: number },
): Promise<RunningApi> {
  const { policies, decisions, metrics, tokens, keys, revocations, approvals, usage } = pdp;
  const authenticate = await approverAuthenticator(config.approvals);
  const app = buildApp({
    approvals: { approvals, authenticate },
    ...(config.llm.upstreams.length > 0 ? { llm: { config: config.llm, usage, log } } : {}),
    decisions,
    metrics,
    logger: log,
    bodyLimit: config.bodyLimit,
    identity: { tokens, keys, revocations },
    reloadError: () => policies.lastError?.message,
    trustedFor: trustedForRequest(config.resources.trustedPeps),
  });
  await app.listen(where);
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : where.port;
  return {
    url: `http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${port}`,
    port,
    close: () => app.close(),
  };
}

export async function startServer(config: CordonConfig, logger?: Logger): Promise<RunningServer> {
  const log = logger ?? pino({ level: config.log.level, base: { svc: 'cordon' } });
  const pdp = await openPdp(config, log);
  let api: RunningApi;
  try {
    api = await serveApi(pdp, config, log, { host: config.host, port: config.port });
  } catch (e) {
    await pdp.close();
    throw e;
  }
  const current = pdp.policies.current();
  log.info(
    {
      port: api.port,
      policyVersion: current.version,
      policies: current.size,
      audit: pdp.audit ? { records: pdp.audit.size, key: pdp.audit.verifierKey } : 'off',
    },
    'cordon serving',
  );
  return {
    url: api.url,
    port: api.port,
    policies: pdp.policies,
    async close() {
      await api.close();
      await pdp.close();
    },
  };
}
