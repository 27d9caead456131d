// The `llm` section of cordon.yaml: the providers behind the gateway and the keys agents use.

import { z } from 'zod';

export const llmConfigSchema = z
  .strictObject({
    upstreams: z
      .array(
        z.strictObject({
          /** The model prefix: `<name>/<model>`, `Model::"<name>/<model>"` in policy. */
          name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
          api: z.enum(['openai', 'anthropic']),
          /** The API root as the provider's SDK takes it (OpenAI: …/v1; Anthropic: no /v1). */
          baseUrl: z.url(),
          /** The environment variable holding the provider key (never sent to agents). */
          apiKeyEnv: z.string().min(1).optional(),
          /** Time to the response headers, and the longest silence inside a stream. */
          timeoutSeconds: z.number().positive().default(120),
        }),
      )
      .default([]),
    /** Gateway API keys (what agents put in their SDK's apiKey) → who is calling. */
    keys: z
      .record(
        z.string().min(16, 'a gateway key needs at least 16 characters'),
        z.strictObject({ agent: z.string().min(1), user: z.string().min(1).optional() }),
      )
      .default({}),
    /**
     * Redacted in both directions whatever the policies say (they can add targets with
     * `@redact`): detector names or detector:type, e.g. ["secrets", "pii:email"]. [] for none.
     */
    redact: z.array(z.string().regex(/^(secrets|pii|injection)(:[\w.-]+)?$/)).default(['secrets']),
    /** The window context.usage counts requests and tokens over. */
    budgetWindowSeconds: z.number().int().positive().default(3600),
    /** Largest request body, bytes (prompts with long contexts are big). */
    bodyLimit: z
      .number()
      .int()
      .positive()
      .default(32 * 1024 * 1024),
  })
  .default({
    upstreams: [],
    keys: {},
    redact: ['secrets'],
    budgetWindowSeconds: 3600,
    bodyLimit: 32 * 1024 * 1024,
  });

export type LlmConfig = z.infer<typeof llmConfigSchema>;
export type LlmUpstream = LlmConfig['upstreams'][number];
