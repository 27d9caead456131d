// `cordon serve`: the PDP and its HTTP API. `serveApi` also lets another process that opened a
// PDP (the MCP gateway) offer the same API beside its own protocol. Either way the data
// directory holds the admin credential (created on first start, mode 0600) the CLI uses.

import { pino, type Logger } from 'pino';
import { readFile } from 'node:fs/promises';
import { ConfigError, peopleIssuer, type CordonConfig } from '../config/config.js';
import { loadOrCreateAdminCredential, Secret } from '../identity/credentials.js';
import { personVerifier } from '../identity/people.js';
import type { LivePolicySet } from '../policy/live.js';
import type { AuthOptions } from '../pep/http/auth.js';
import { buildApp } from '../pep/http/app.js';
import { openPdp, type Pdp } from './pdp.js';
import { PolicyVersionGossip } from '../policy/version-gossip.js';
import type { Stores } from '../store/ports.js';
import { trustedForRequest } from '../pep/http/resource-trust.js';
import { limitsFromConfig } from '../pep/http/http-limits.js';
import type { RunningExtAuthz } from '../pep/ext-authz/serve.js';
import { ConsoleSessions } from '../pep/http/console/sessions.js';

export interface RunningServer {
  url: string;
  port: number;
  policies: LivePolicySet;
  /** The ext_authz listeners, when `extAuthz` is configured. */
  extAuthz?: RunningExtAuthz;
  close(): Promise<void>;
}

export interface RunningApi {
  url: string;
  port: number;
  /** Console sessions (they also mint the one-time sign-in link printed at start). */
  console: ConsoleSessions;
  /** Stops the HTTP server; the PDP stays open. */
  close(): Promise<void>;
}

/** Who may call the API: the admin credential (created on first start), PEPs, agents, people. */
export async function apiAuth(pdp: Pdp, config: CordonConfig): Promise<AuthOptions> {
  const issuer = peopleIssuer(config);
  if (config.approvals.approvers === 'token' && !issuer)
    throw new ConfigError('approvals.approvers: token needs auth.issuer (the identity provider)');
  const peps = await Promise.all(
    config.auth.peps.map(async (p) => {
      let text: string;
      try {
        text = await readFile(p.credentialFile, 'utf8');
      } catch (e) {
        throw new ConfigError(`auth.peps ${p.name}: ${(e as Error).message}`);
      }
      try {
        return { name: p.name, secret: new Secret(text.trim()) };
      } catch (e) {
        throw new ConfigError(`auth.peps ${p.name}: ${(e as Error).message}`);
      }
    }),
  );
  return {
    admin: [new Secret(await loadOrCreateAdminCredential(config.data))],
    peps,
    tokens: pdp.tokens,
    ...(issuer ? { people: await personVerifier(issuer) } : {}),
    required: config.auth.required,
  };
}

/**
 * Tells the other nodes which policy version this one serves, and hears theirs, where the PDP's
 * stores share a change bus between nodes (the PostgreSQL backend; store/open.ts).
 */
async function startPolicyGossip(pdp: Pdp, log: Logger): Promise<PolicyVersionGossip | undefined> {
  const stores = (pdp as Pdp & Partial<{ stores: Pick<Stores, 'backend' | 'bus'> }>).stores;
  if (!stores || stores.backend !== 'postgres') return undefined;
  const gossip = new PolicyVersionGossip({
    bus: stores.bus,
    current: () => pdp.policies.current().version,
    onError: (err) => log.warn({ err: err.message }, 'could not tell the peers the policy version'),
  });
  pdp.policies.on('reload', () => void gossip.publish());
  pdp.metrics.peerStatus = () => gossip.status();
  return gossip.start();
}

export async function serveApi(
  pdp: Pdp,
  config: CordonConfig,
  log: Logger,
  where: { host: string; port: number },
): Promise<RunningApi> {
  const { policies, decisions, metrics, tokens, keys, revocations, approvals, usage } = pdp;
  const auth = await apiAuth(pdp, config);
  const consoleSessions = new ConsoleSessions({
    ...(config.console.publicUrl ? { publicUrl: config.console.publicUrl } : {}),
  });
  const gossip = await startPolicyGossip(pdp, log);
  if (config.approvals.approvers === 'trusted')
    log.warn(
      'approvals.approvers is trusted: the admin credential may name any approver. For local development only',
    );
  const app = buildApp({
    approvals: { approvals, approvers: config.approvals.approvers },
    ...(config.llm.upstreams.length > 0
      ? { llm: { config: config.llm, usage, log, isolation: pdp.isolation } }
      : {}),
    decisions,
    metrics,
    logger: log,
    bodyLimit: config.bodyLimit,
    limits: limitsFromConfig(config.limits),
    identity: { tokens, keys, revocations },
    isolation: pdp.isolation,
    ...(pdp.baselines ? { baselines: pdp.baselines } : {}),
    reloadError: () => policies.lastError?.message ?? pdp.bundle?.error,
    trustedFor: trustedForRequest(config.resources.trustedPeps),
    authzen: config.authzen,
    // With a bundle, a reload fetches it now (the polling does the same on its own).
    reload: () => (pdp.bundle ? pdp.bundle.check() : policies.reload()),
    policyBundle: () => pdp.bundle?.status(),
    policyPeers: () => gossip?.status(),
    storage: () => pdp.stores.health(),
    auth,
    console: {
      sessions: consoleSessions,
      approvals,
      isolation: pdp.isolation,
      ...(pdp.baselines ? { baselines: pdp.baselines } : {}),
      policyDir: () => policies.dir,
      reloadError: () => policies.lastError?.message ?? pdp.bundle?.error,
    },
  });
  try {
    await app.listen(where);
  } catch (e) {
    gossip?.close();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : where.port;
  return {
    url: `http://${where.host.includes(':') ? `[${where.host}]` : where.host}:${port}`,
    port,
    console: consoleSessions,
    close: async () => {
      gossip?.close();
      await app.close();
    },
  };
}

/**
 * A one-time link that signs the admin in to the console, on stderr only (not the JSON log): it
 * is a credential for ten minutes, and the URL fragment keeps it out of access logs.
 */
export function printConsoleLink(api: RunningApi, host: string): void {
  const link = api.console.mintSignInToken({ kind: 'admin' });
  const wildcard = host === '0.0.0.0' || host === '::';
  const base = api.console.publicOrigin ?? (wildcard ? `http://127.0.0.1:${api.port}` : api.url);
  process.stderr.write(
    `console: ${base}/ui/#signInToken=${link.token} (signs in as cordon-admin, once, within 10 minutes)\n`,
  );
}

export async function startServer(config: CordonConfig, logger?: Logger): Promise<RunningServer> {
  const log = logger ?? pino({ level: config.log.level, base: { svc: 'cordon' } });
  const pdp = await openPdp(config, log);
  let api: RunningApi;
  let extAuthz: RunningExtAuthz | undefined;
  try {
    api = await serveApi(pdp, config, log, { host: config.host, port: config.port });
  } catch (e) {
    await pdp.close();
    throw e;
  }
  if (config.extAuthz) {
    try {
      const { admin, peps, required } = await apiAuth(pdp, config);
      // Loaded only when configured: gRPC and protobuf cost a server without ext_authz ~0.1 s.
      const { startExtAuthz } = await import('../pep/ext-authz/serve.js');
      extAuthz = await startExtAuthz(
        config.extAuthz,
        pdp.decisions,
        { admin: admin ?? [], peps: peps ?? [], required: required ?? false },
        log,
        limitsFromConfig(config.limits),
      );
    } catch (e) {
      await api.close();
      await pdp.close();
      throw e;
    }
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
  if (config.log.level !== 'silent') printConsoleLink(api, config.host);
  return {
    url: api.url,
    port: api.port,
    policies: pdp.policies,
    ...(extAuthz ? { extAuthz } : {}),
    async close() {
      await extAuthz?.close();
      await api.close();
      await pdp.close();
    },
  };
}
