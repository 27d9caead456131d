// cordon.yaml: the serve configuration. Command-line flags override what the file says.

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { formatIssues } from '../core/request.js';
import { isolationConfigSchema } from '../isolation/config.js';
import { extAuthzConfigSchema } from '../pep/ext-authz/config.js';
import { llmConfigSchema } from '../pep/llm/config.js';
import { riskConfigSchema } from '../risk/config.js';
import { telemetryConfigSchema } from '../telemetry/config.js';

const issuerSchema = z
  .strictObject({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    jwks: z.url().optional(),
    keyFile: z.string().min(1).optional(),
    /** The claim naming the user id (default sub). */
    userClaim: z.string().min(1).optional(),
  })
  .refine((i) => !!i.jwks !== !!i.keyFile, 'give exactly one of jwks or keyFile');

export const configSchema = z.strictObject({
  policies: z.string().default('./policies'),
  port: z.number().int().min(0).max(65535).default(7070),
  host: z.string().default('127.0.0.1'),
  data: z.string().default('./.cordon'),
  bodyLimit: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Against hostile clients, on every listener (docs/operations.md). */
  limits: z
    .strictObject({
      /** The whole request, headers and body, must arrive within this. */
      requestTimeoutSeconds: z.number().positive().default(30),
      headersTimeoutSeconds: z.number().positive().default(10),
      keepAliveTimeoutSeconds: z.number().positive().default(5),
      /** Requests one connection may have open, answers not yet taken by its client. */
      maxPendingPerConnection: z.number().int().positive().default(64),
      maxPendingTotal: z.number().int().positive().default(4096),
      /** Answer bytes queued for a client that does not read them. */
      maxUnreadBytes: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024),
    })
    .default({
      requestTimeoutSeconds: 30,
      headersTimeoutSeconds: 10,
      keepAliveTimeoutSeconds: 5,
      maxPendingPerConnection: 64,
      maxPendingTotal: 4096,
      maxUnreadBytes: 1024 * 1024,
    }),
  watch: z.boolean().default(true),
  /**
   * `policies` given as a signed bundle, an http(s) URL or a .tar.gz file (docs/deploy.md):
   * the verifier key its manifest must be signed with (`<name>+<id>+<base64>`, the text or a
   * file holding it) and how often to look for a new version.
   */
  policyBundle: z
    .strictObject({
      publicKey: z.string().min(1),
      pollSeconds: z.number().positive().default(30),
    })
    .optional(),
  /**
   * Where shared state lives (docs/deploy.md). Absent: the embedded stores in the data directory.
   * CORDON_POSTGRES_URL and CORDON_REDIS_URL, when set, replace these.
   * postgres: durable state (audit log, approvals, sessions, usage, revocations, baselines,
   * isolation) shared by every node; redis: hot counters and change notifications.
   */
  storage: z
    .strictObject({
      postgres: z.string().min(1).optional(),
      redis: z.string().min(1).optional(),
      /** The PostgreSQL schema holding Cordon's tables (default cordon): one per cluster. */
      schema: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _ (at most 63)')
        .optional(),
    })
    .refine((s) => !s.redis || s.postgres, 'storage.redis needs storage.postgres')
    .default({}),
  /** compiled: Cordon's compiled Cedar evaluator (cedar-wasm for what it does not accept); wasm: cedar-wasm only. */
  engine: z.enum(['compiled', 'wasm']).default('compiled'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
  audit: z
    .strictObject({
      /** Record every decision in the tamper-evident log in the data directory. */
      enabled: z.boolean().default(true),
      /** Keep the raw request input in records (a digest is always kept). */
      recordInput: z.boolean().default(false),
      /** Keep the raw prompt/content in records (a digest is always kept). */
      recordPrompt: z.boolean().default(false),
      /** RFC 6901 pointers into the record whose values are masked before hashing. */
      mask: z.array(z.string().startsWith('/')).default([]),
      /** full: acknowledged records survive power loss; normal: process crashes only, faster. */
      sync: z.enum(['full', 'normal']).default('full'),
      /**
       * The checkpoint signing key (Ed25519 PKCS#8 PEM), kept outside the data directory; created
       * there on first start. Default: CORDON_AUDIT_SIGNING_KEY, else DATA/keys/audit.key.
       */
      signingKey: z.string().min(1).optional(),
      /** Where every signed checkpoint also goes, outside the data directory. */
      witness: z
        .strictObject({
          /** A file (append-only, kept by another party) each checkpoint is appended to. */
          file: z.string().min(1).optional(),
          /** A c2sp.org/tlog-witness submission prefix (POST <url>/add-checkpoint). */
          url: z.url().optional(),
        })
        .optional(),
    })
    .default({ enabled: true, recordInput: false, recordPrompt: false, mask: [], sync: 'full' }),
  sessions: z
    .strictObject({
      /** How far back context.session.counts look. */
      windowSeconds: z.number().int().positive().default(600),
      /**
       * How long a label (what was read) sticks to the agent and the user across sessions, so a
       * new session id does not wash it away. 0: labels stay with their session only.
       */
      labelWindowSeconds: z.number().int().min(0).default(86_400),
    })
    .default({ windowSeconds: 600, labelWindowSeconds: 86_400 }),
  resources: z
    .strictObject({
      /**
       * resource type → enforcement points (by credential name) trusted to state its `parents`.
       * Everyone else's parents are dropped: set membership comes from entities.json.
       */
      trustedPeps: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
    })
    .default({ trustedPeps: {} }),
  tokens: z
    .strictObject({
      /** The audience delegation tokens presented here must carry. */
      audience: z.string().min(1).default('cordon'),
    })
    .default({ audience: 'cordon' }),
  /** The web console (docs/api.md "Console API"). */
  console: z
    .strictObject({
      /**
       * The URL browsers reach Cordon at, when a proxy terminates TLS in front of it
       * (https://cordon.example): browsers' Origin is checked against it too, and the session
       * cookie is Secure when it is https.
       */
      publicUrl: z.url({ protocol: /^https?$/ }).optional(),
    })
    .default({}),
  approvals: z
    .strictObject({
      /** How long a request waits for a human's answer. */
      pendingSeconds: z.number().int().positive().default(900),
      /** How long an approval can be used once given. */
      grantSeconds: z.number().int().positive().default(300),
      /** The most retries one approval may cover (an approver asks with "uses"). */
      maxUses: z.number().int().positive().max(1000).default(10),
      /** Told when a request is opened or answered (signed when a secret is set). */
      webhook: z
        .strictObject({
          url: z.url(),
          secret: z.string().min(16, 'a webhook secret needs at least 16 characters').optional(),
        })
        .optional(),
      /**
       * Whom an answer counts as (docs/approvals.md). authenticated: the caller (a person's
       * identity provider token, or the admin credential as the admin); token: people's tokens
       * only; trusted: also believe the "approver" the admin credential names (local
       * development only: a warning at start).
       */
      approvers: z.enum(['authenticated', 'token', 'trusted']).default('authenticated'),
      /** The older place of `auth.issuer`; still read when that is absent. */
      issuer: issuerSchema.optional(),
    })
    .default({ pendingSeconds: 900, grantSeconds: 300, maxUses: 10, approvers: 'authenticated' }),
  /** Who may call the HTTP API (docs/api.md, "Who may call"). */
  auth: z
    .strictObject({
      /** Decision routes need a credential on loopback listeners too (always on others). */
      required: z.boolean().default(false),
      /** The identity provider whose JWTs authenticate people (operators, approvers). */
      issuer: issuerSchema.optional(),
      /** Enforcement points calling the decision API from elsewhere, each with a credential. */
      peps: z
        .array(
          z.strictObject({
            name: z.string().min(1).max(64),
            /** A file holding the PEP's secret (at least 16 characters). */
            credentialFile: z.string().min(1),
          }),
        )
        .default([]),
    })
    .default({ required: false, peps: [] }),
  llm: llmConfigSchema,
  inspection: z
    .strictObject({
      /** The optional model tier for prompt injection: a local model directory, never fetched. */
      injectionModel: z
        .strictObject({ path: z.string().min(1), positiveLabel: z.string().min(1).optional() })
        .optional(),
    })
    .default({}),
  /** Behavioral baselines (docs/risk-and-baselines.md, "Baselines"). */
  baselines: z
    .strictObject({
      /** Keep baselines and fill context.baseline; false: mode "off" for every agent. */
      enabled: z.boolean().default(true),
      /** The mode of an agent nobody set one for (`cordon baseline mode`). */
      defaultMode: z.enum(['learn', 'monitor', 'enforce']).default('learn'),
      /** Counts halve after this long: how fast old behaviour becomes rare. */
      halfLifeSeconds: z
        .number()
        .positive()
        .default(7 * 86_400),
      /** The short-term rate compared with the usual rate decays with this half-life. */
      rateHalfLifeSeconds: z.number().positive().default(60),
      /** Allowed actions before an agent's own baseline stands without its class's. */
      minObservations: z.number().int().min(1).default(20),
      /** Directory components kept of a file path (/workspace/src/app at 3). */
      pathDepth: z.number().int().min(1).max(32).default(3),
      /** Items kept per dimension and agent; the rarest is forgotten beyond. */
      maxItems: z.number().int().min(10).default(1000),
      /** How often what was learned is written to the store (several nodes merge there). */
      flushSeconds: z.number().positive().default(5),
      /** How long a node uses a cached baseline before reading it again. */
      refreshSeconds: z.number().positive().default(30),
      /** Baselines a node keeps in memory (about 1.5 KiB each); more are read again on need. */
      maxCached: z.number().int().min(100).default(100_000),
    })
    .default({
      enabled: true,
      defaultMode: 'learn',
      halfLifeSeconds: 7 * 86_400,
      rateHalfLifeSeconds: 60,
      minObservations: 20,
      pathDepth: 3,
      maxItems: 1000,
      flushSeconds: 5,
      refreshSeconds: 30,
      maxCached: 100_000,
    }),
  /** The risk tier table and the risk engine (src/risk/config.ts, docs/risk-and-baselines.md). */
  risk: riskConfigSchema,
  isolation: isolationConfigSchema,
  /** Tracing over OpenTelemetry: off unless configured here or by OTEL_* (docs/telemetry.md). */
  telemetry: telemetryConfigSchema,
  /** The AuthZEN API: how subjects map to principals, the PDP identifier, search limits (docs/api.md). */
  authzen: z
    .strictObject({
      /** The acting agent of a User subject that names none (the application asking). */
      agent: z.string().min(1).optional(),
      /** Further subject type names and the principal kind each means (`identity: User`). */
      subjectTypes: z.record(z.string().min(1), z.enum(['Agent', 'User'])).optional(),
      /** The PDP identifier published in /.well-known/authzen-configuration. */
      pdp: z.url({ protocol: /^https?$/ }).optional(),
      search: z
        .strictObject({
          defaultLimit: z.number().int().min(1).optional(),
          maxLimit: z.number().int().min(1).optional(),
          scanPerPage: z.number().int().min(1).optional(),
        })
        .optional(),
    })
    .default({}),
  /** Envoy ext_authz and the Kubernetes webhook authorizer (docs/ext-authz.md); off when absent. */
  extAuthz: extAuthzConfigSchema.optional(),
});

export type CordonConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

export async function loadConfig(file: string | undefined): Promise<CordonConfig> {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
    }
    // Loaded here: serving without a config file does not pay for the YAML parser.
    const { parse: parseYaml } = await import('yaml');
    try {
      raw = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`${file}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return parseConfig(raw, file ?? 'config');
}

/**
 * storage.postgres and storage.redis from CORDON_POSTGRES_URL and CORDON_REDIS_URL when set,
 * over the file's: URLs carrying passwords stay out of cordon.yaml (a Secret in the pod's env).
 */
function withStorageEnv(raw: unknown): unknown {
  const postgres = process.env.CORDON_POSTGRES_URL || undefined;
  const redis = process.env.CORDON_REDIS_URL || undefined;
  if ((!postgres && !redis) || typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return raw;
  const r = raw as Record<string, unknown>;
  if (r.storage !== undefined && (typeof r.storage !== 'object' || r.storage === null)) return raw;
  const storage = {
    ...(r.storage as object),
    ...(postgres && { postgres }),
    ...(redis && { redis }),
  };
  return { ...r, storage };
}

/** A configuration (the file's, flags merged in) checked: a ConfigError names each path and why. */
export function parseConfig(raw: unknown, source = 'config'): CordonConfig {
  const r = configSchema.safeParse(withStorageEnv(raw));
  if (!r.success) throw new ConfigError(`${source}: ${formatIssues(r.error)}`);
  return r.data;
}

/** The identity provider for people: `auth.issuer`, or its older place `approvals.issuer`. */
export function peopleIssuer(c: CordonConfig): CordonConfig['auth']['issuer'] {
  return c.auth.issuer ?? c.approvals.issuer;
}
