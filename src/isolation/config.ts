// cordon.yaml `isolation:` (docs/risk-and-baselines.md, "Isolation"): what the `restrict` and
// `isolate` responses take away when a policy's @outcome or the risk tier table calls for them,
// whom they cover, how long they last, and the webhook told of every isolation applied (so an
// external secret store can rotate what Cordon does not hold).

import { z } from 'zod';

export const measuresSchema = z.strictObject({
  /** Tool ids (`server/tool`), patterns with `*`, or `ToolSet::<id>`. */
  revokedTools: z.array(z.string().min(1)).optional(),
  egress: z.enum(['none', 'baseline']).optional(),
  readOnly: z.boolean().optional(),
  noDelegation: z.boolean().optional(),
  full: z.boolean().optional(),
});

export const DEFAULT_ISOLATION = {
  // Surgical: egress only. noDelegation also revokes the tokens the agent itself connects with
  // over HTTP, which would leave it unable to read or answer (the workflow must survive).
  restrict: { egress: 'none' as const },
  isolate: { full: true },
  scope: 'agent' as const,
};

export const isolationConfigSchema = z
  .strictObject({
    /** What @outcome("restrict") and the risk tier's restrict take away. */
    restrict: measuresSchema.default(DEFAULT_ISOLATION.restrict),
    /** What @outcome("isolate") and the risk tier's isolate take away. */
    isolate: measuresSchema.default(DEFAULT_ISOLATION.isolate),
    /**
     * Whom an automatic response covers: the agent everywhere (default), only when acting for
     * the same user, or only in the same session.
     */
    scope: z.enum(['agent', 'user', 'session']).default('agent'),
    /** How long an automatic response lasts; absent: until a person releases it. */
    durationSeconds: z.number().int().positive().optional(),
    /** Told of every isolation applied and released (signed like the approvals webhook). */
    webhook: z
      .strictObject({
        url: z.url(),
        secret: z.string().min(16, 'a webhook secret needs at least 16 characters').optional(),
      })
      .optional(),
  })
  .default(DEFAULT_ISOLATION);

export type IsolationConfig = z.infer<typeof isolationConfigSchema>;
