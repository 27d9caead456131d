// The package entry (`import … from 'cordon'`): a small, stable surface for embedding the policy
// engine. Create an engine from a policy directory or from sources and `decide`; open the whole
// decision service (stores, approvals, audit log) in a data directory; inspect and redact text;
// verify delegation tokens. Nothing here loads the HTTP server, SQLite, PostgreSQL, Redis, the
// MCP SDK or Prometheus: those are loaded only by `openDecisionService` (index.test.ts checks).
// guard() and the remote client are in `cordon/sdk`.

import type { Engine, EngineOptions } from './core/engine.js';
import type { PolicySources } from './core/compile.js';
import type { LocatedError } from './core/source-location.js';
import type { EngineKind } from './core/compiled/index.js';
import type { TokenVerifier } from './core/stages/identity.js';
import type { RiskTiers } from './core/risk.js';
import type { Inspection } from './inspect/inspector.js';
import type { EmbeddedDecider, EmbeddedOptions } from './sdk/embedded.js';

export type {
  ActionRequest,
  Decision,
  DecisionApproval,
  EntityRef,
  Obligation,
  Outcome,
  PolicyError,
  Reason,
  ResourceRef,
  Risk,
  RiskLevel,
} from './core/types.js';
export type { Engine, PolicySources, LocatedError, EngineKind, TokenVerifier, Inspection };
export type { SourceFile } from './core/compile.js';
export type { VerifiedDelegation } from './core/stages/identity.js';
export type { EmbeddedDecider as DecisionServiceHandle, EmbeddedOptions as DecisionServiceOptions };
export type { Finding } from './inspect/types.js';
export { redactText, type RedactOperator, type Span } from './inspect/redact.js';
export { applyRedactions, redactionPlan, type RedactObligation } from './inspect/obligations.js';
export { redactResult } from './sdk/redact-result.js';
export { jwksTokenVerifier, type JwksVerifierOptions } from './identity/jwks-verifier.js';
export { TokenError } from './identity/tokens.js';

/** The policies did not compile: every error, as `file:line:col message` in `message`. */
export class PolicyCompileError extends Error {
  override readonly name = 'PolicyCompileError';
  constructor(readonly errors: LocatedError[]) {
    super(
      `the policies do not compile:\n${errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.message}`).join('\n')}`,
    );
  }
}

export interface CreateEngineOptions {
  /** `compiled` (default) or `wasm` (cedar-wasm for every policy); see docs/engine.md. */
  engine?: EngineKind;
  /** Verifies delegation tokens in requests (e.g. jwksTokenVerifier); without one they are denied. */
  tokens?: TokenVerifier;
  /** The risk tier table (score → level → response). */
  riskTiers?: RiskTiers;
  /** The time decisions are made at (default: now). */
  clock?: () => Date;
  /** Where analyses of policy directories are cached across runs (default: not cached). */
  cacheDir?: string | false;
}

/**
 * An engine over a policy directory (`{ policies: dir }`: *.cedar, schema.cedarschema,
 * entities.json) or over sources in memory. It decides with no state of its own: no sessions,
 * approvals, audit log (see openDecisionService). Throws PolicyCompileError.
 */
export async function createEngine(
  from: { policies: string } | { sources: PolicySources },
  o: CreateEngineOptions = {},
): Promise<Engine> {
  const [{ Engine }, { compileSources }, { loadPolicyDir }] = await Promise.all([
    import('./core/engine.js'),
    import('./policy/isolated-compile.js'),
    import('./policy/load.js'),
  ]);
  const setOptions = o.engine ? { engine: o.engine } : {};
  const r =
    'sources' in from
      ? await compileSources(from.sources, setOptions)
      : await loadPolicyDir(from.policies, { ...setOptions, cacheDir: o.cacheDir ?? false });
  if (!r.ok) throw new PolicyCompileError(r.errors);
  const { set } = r;
  const options: EngineOptions = { policies: { current: () => set } };
  if (o.tokens) options.tokens = o.tokens;
  if (o.riskTiers) options.riskTiers = o.riskTiers;
  if (o.clock) options.clock = o.clock;
  return new Engine(options);
}

/**
 * The decision service as `cordon serve` runs it, in this process: policies, delegation tokens,
 * approvals, sessions, isolation, risk, and every decision recorded in the tamper-evident audit
 * log in the data directory (one process per directory). Loads the configured stores.
 */
export async function openDecisionService(o: EmbeddedOptions = {}): Promise<EmbeddedDecider> {
  const { EmbeddedDecider } = await import('./sdk/embedded.js');
  return EmbeddedDecider.open(o);
}

let inspector: Promise<{ inspect(text: string): Promise<Inspection> }> | undefined;

/** Cordon's detectors (secrets, PII, injection) over one text; loaded on first use. */
export async function inspect(text: string): Promise<Inspection> {
  inspector ??= import('./inspect/inspector.js').then((m) => new m.Inspector());
  return (await inspector).inspect(text);
}
