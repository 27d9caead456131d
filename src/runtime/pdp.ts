// The decision point as a process runs it: policies followed for edits, the audit log, delegation
// tokens, the engine and the decision service. `cordon serve` and `cordon mcp serve` both use it.

import { join } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from '../audit/log.js';
import type { AuditService } from '../store/audit-port.js';
import { ensureDataDir } from '../store/data-dir.js';
import { ConfigError, type CordonConfig } from '../config/config.js';
import type { Inspector } from '../inspect/inspector.js';
import { Engine } from '../core/engine.js';
import type { CompiledPolicySet } from '../core/policy-set.js';
import { loadTokenKeys, type TokenKey } from '../identity/token-keys.js';
import { TokenService } from '../identity/tokens.js';
import type { LivePolicySet } from '../policy/live.js';
import { BundleError } from '../policy/bundle.js';
import { openPolicySource, type PolicyBundleFollower } from '../policy/bundle-source.js';
import { sessionStage } from '../core/stages/session.js';
import { DecisionService } from '../decision/service.js';
import { ApprovalService } from '../approval/service.js';
import { webhookNotifier } from '../approval/webhook.js';
import { approvalStage } from '../core/stages/approval.js';
import { usageStage } from '../core/stages/usage.js';
import { Metrics } from '../decision/metrics.js';
import { openStores } from '../store/open.js';
import type { Stores } from '../store/ports.js';
import { Revocations } from '../store/cache/revocations.js';
import { SessionCache } from '../store/cache/sessions.js';
import { UsageWindows } from '../store/cache/usage.js';
import { baselineServiceFrom, type BaselineService } from '../risk/baseline-service.js';
import { baselineLearner, baselineStage } from '../risk/baseline-stage.js';
import { IsolationService } from '../isolation/service.js';
import { auditRecorder } from '../isolation/audit.js';
import { revokeDelegationTokens } from '../isolation/actuators.js';
import { isolationWebhook } from '../isolation/webhook.js';
import { isolationResponder } from '../isolation/responses.js';
import { isolationStage } from '../core/stages/isolation.js';
import { LiveReputation } from '../risk/reputation.js';
import { riskStage } from '../risk/stage.js';
import { startTelemetry, telemetrySettings } from '../telemetry/config.js';
import type { Telemetry } from '../telemetry/otel.js';

export interface Pdp {
  policies: LivePolicySet;
  /** Set when the policies come from a signed bundle (docs/deploy.md). */
  bundle?: PolicyBundleFollower | undefined;
  audit: AuditService | undefined;
  tokens: TokenService;
  keys: TokenKey[];
  revocations: Revocations;
  metrics: Metrics;
  decisions: DecisionService;
  approvals: ApprovalService;
  usage: UsageWindows;
  /** Every store of the configured backend (isolation, baselines and the change bus too). */
  stores: Stores;
  /** Behavioral baselines; absent when `baselines.enabled` is false. */
  baselines?: BaselineService;
  /** Who is isolated, in memory, kept fresh from the isolation store (src/isolation/). */
  isolation: IsolationService;
  close(): Promise<void>;
}

/** The default detectors, plus the injection model tier when the configuration names one. */
async function configuredInspector(config: CordonConfig): Promise<Inspector | undefined> {
  const model = config.inspection.injectionModel;
  if (!model) return undefined;
  // Loaded only here: the detectors' rule sets and phone metadata are a large part of start-up,
  // and without a model the engine loads the default detectors on the first request with content.
  const { InjectionModel } = await import('../inspect/injection/model.js');
  const { defaultDetectors, Inspector } = await import('../inspect/inspector.js');
  try {
    const tier = await InjectionModel.load({
      modelPath: model.path,
      ...(model.positiveLabel ? { positiveLabel: model.positiveLabel } : {}),
    });
    return new Inspector([...defaultDetectors(), tier]);
  } catch (e) {
    throw new ConfigError(`inspection.injectionModel: ${(e as Error).message}`);
  }
}

export async function openPdp(config: CordonConfig, log: Logger): Promise<Pdp> {
  ensureDataDir(config.data);
  let opened;
  try {
    opened = await openPolicySource(config, {
      engine: config.engine,
      cacheDir: join(config.data, 'cache'),
    });
  } catch (e) {
    if (e instanceof BundleError) throw new ConfigError(e.message);
    throw e;
  }
  const { policies, bundle } = opened;
  logEngine(log, policies.current());
  const metrics = new Metrics();
  metrics.servingVersion(policies.current().version);
  let audit: AuditService | undefined;
  let stores: Stores | undefined;
  let revocations: Revocations | undefined;
  let isolation: IsolationService | undefined;
  let reputation: LiveReputation | undefined;
  let telemetry: Telemetry | undefined;
  try {
    const { enabled, ...auditOptions } = config.audit;
    const signingKey =
      auditOptions.signingKey ?? (process.env.CORDON_AUDIT_SIGNING_KEY || undefined);
    audit = !enabled
      ? undefined
      : config.storage.postgres
        ? await openClusterAudit(config, config.storage.postgres, signingKey, log)
        : await AuditLog.open(config.data, {
            ...auditOptions,
            signingKey,
            onError: (err) => log.error({ err }, 'audit checkpoint failed'),
          });
    if (audit?.signer.inDataDir)
      log.warn(
        { key: audit.signer.file },
        'the audit signing key is in the data directory: whoever can write it can re-sign the log; set audit.signingKey (docs/operations.md)',
      );
    policies.on('reload', (e) => {
      metrics.reloads.inc({ result: 'ok' });
      metrics.servingVersion(e.version);
      log.info(e, 'policies reloaded');
    });
    policies.on('error', (e) => {
      metrics.reloads.inc({ result: 'error' });
      log.error({ errors: e.errors }, 'policy reload failed; the last good set keeps serving');
    });
    if (bundle) {
      bundle.on('refused', (err) => {
        metrics.bundleFailures.inc();
        log.error({ err: err.message }, 'policy bundle refused; the last good set keeps serving');
      });
      if (bundle.error) log.error({ err: bundle.error }, 'policy bundle refused at start');
      bundle.start();
    } else if (config.watch) await policies.watch();
    const keys = await loadTokenKeys(config.data);
    stores = await openStores(config);
    revocations = await Revocations.open(stores.revocations, stores.bus, (err) =>
      log.error({ err }, 'reading revocations failed'),
    );
    const tokens = new TokenService(keys, revocations, config.tokens.audience);
    const sessions = new SessionCache(stores.sessions, config.sessions.windowSeconds * 1000);
    const approvalStore = stores.approvals;
    const usage = new UsageWindows(stores.usage, config.llm.budgetWindowSeconds * 1000);
    await usage.compact(new Date());
    const { webhook, pendingSeconds, grantSeconds, maxUses } = config.approvals;
    const approvals = new ApprovalService({
      store: approvalStore,
      pendingSeconds,
      grantSeconds,
      maxUses,
      ...(webhook ? { notify: webhookNotifier(webhook, log) } : {}),
    });
    const isolationHook = config.isolation.webhook
      ? isolationWebhook(config.isolation.webhook, log)
      : undefined;
    // Throws when the store cannot be read: nothing is served without knowing who is isolated.
    isolation = await IsolationService.open({
      store: stores.isolation,
      bus: stores.bus,
      log,
      knownAgent: (a) => policies.current().store.get('Agent', a) !== undefined,
      ...(audit ? { record: auditRecorder(audit, policies) } : {}),
      actuators: [revokeDelegationTokens(revocations), ...(isolationHook ? [isolationHook] : [])],
    });
    const inspector = await configuredInspector(config);
    const { enabled: baselinesOn, ...baselineConfig } = config.baselines;
    const baselines = baselinesOn
      ? baselineServiceFrom(baselineConfig, stores.baselines, {
          bus: stores.bus,
          onError: (what, err) => log.error({ err }, `baselines: ${what}`),
        })
      : undefined;
    reputation = await openReputation(config, log, config.watch);
    // Tracing costs nothing unless configured: the OpenTelemetry SDK is not even imported.
    const traceSettings = telemetrySettings(config.telemetry);
    telemetry = traceSettings ? await startTelemetry(traceSettings) : undefined;
    const tracer = telemetry?.tracer;
    const engine = new Engine({
      policies,
      riskTiers: config.risk,
      risk: riskStage({ config: config.risk, ...(reputation ? { reputation } : {}) }),
      tokens,
      stages: [
        isolationStage(isolation),
        approvalStage(approvalStore),
        sessionStage(sessions, { labelWindowMs: config.sessions.labelWindowSeconds * 1000 }),
        usageStage(usage),
        // Before the risk stage: the deviation is one of its signals.
        ...(baselines ? [baselineStage(baselines)] : []),
      ],
      ...(inspector ? { inspector } : {}),
      ...(tracer ? { tracer } : {}),
    });
    const decisions = new DecisionService(
      engine,
      metrics,
      log,
      audit,
      sessions,
      approvals,
      isolationResponder(isolation, config.isolation),
    );
    decisions.tracer = tracer;
    if (baselines)
      decisions.afterEffects.push(
        // Deviations are alerts: a metric and a log line (identifiers only, never input).
        baselineLearner(baselines, (trace, d, dims) => {
          const mode = trace.facts.baseline.mode;
          for (const dimension of dims)
            metrics.baselineNovel.inc({ mode, dimension, decision: d.decision });
          log.warn(
            {
              decisionId: d.decisionId,
              agent: trace.agent,
              mode,
              novel: dims,
              deviation: trace.facts.baseline.deviation,
              action: trace.request.action,
              resource: `${trace.request.resource.type}::${trace.request.resource.id}`,
              decision: d.decision,
            },
            'baseline deviation',
          );
        }),
      );
    const openedStores = stores;
    const openedRevocations = revocations;
    const openedIsolation = isolation;
    const openedReputation = reputation;
    const openedTelemetry = telemetry;
    return {
      policies,
      bundle,
      audit,
      tokens,
      keys,
      revocations,
      metrics,
      decisions,
      approvals,
      usage,
      ...(baselines ? { baselines } : {}),
      isolation,
      stores,
      async close() {
        openedIsolation.close();
        await baselines?.close();
        await bundle?.close();
        await policies.close();
        await audit?.close();
        await openedReputation?.close();
        openedRevocations.close();
        await openedStores.close();
        // Last: what the closing steps traced is exported too.
        await openedTelemetry?.shutdown();
      },
    };
  } catch (e) {
    await bundle?.close();
    await policies.close();
    await audit?.close();
    isolation?.close();
    await reputation?.close();
    revocations?.close();
    await stores?.close();
    await telemetry?.shutdown();
    throw e;
  }
}

/** The audit log shared by the nodes of a cluster, in PostgreSQL (loaded only when configured). */
async function openClusterAudit(
  config: CordonConfig,
  url: string,
  signingKey: string | undefined,
  log: Logger,
): Promise<AuditService> {
  if (config.audit.witness)
    throw new ConfigError(
      'audit.witness is not supported with storage.postgres yet: remove it, or keep the embedded log',
    );
  const { ClusterAuditLog } = await import('../audit/cluster/log.js');
  const { recordInput, recordPrompt, mask } = config.audit;
  return ClusterAuditLog.open(
    { url, schema: config.storage.schema },
    {
      dataDir: config.data,
      signingKey,
      recordInput,
      recordPrompt,
      mask,
      onError: (err) => log.error({ err }, 'audit sequencer or follower failed'),
    },
  );
}

/**
 * The destination reputation list (risk.reputation.file), followed like the policies: a bad edit
 * keeps the last good list and is logged. Unreadable or invalid at start: the start fails.
 */
async function openReputation(
  config: CordonConfig,
  log: Logger,
  follow: boolean,
): Promise<LiveReputation | undefined> {
  const file = config.risk.reputation?.file;
  if (!file) return undefined;
  let live: LiveReputation;
  try {
    live = await LiveReputation.open(file);
  } catch (e) {
    throw new ConfigError(`risk.reputation.file: ${(e as Error).message}`);
  }
  live.on('reload', (e) => log.info(e, 'reputation list reloaded'));
  live.on('error', (e) =>
    log.error(
      { file: e.file, errors: e.problems },
      'reputation list reload failed; the last good list keeps serving',
    ),
  );
  if (follow) await live.watch();
  return live;
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
