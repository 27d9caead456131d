// Validation of ActionRequest as it arrives from outside (HTTP, CLI, SDK): every problem is
// reported by path, and the keys only Cordon may set are refused rather than silently dropped.

import { z } from 'zod';
import { RESERVED_CONTEXT_KEYS, type ActionRequest } from './types.js';

const entityRef = z.strictObject({ type: z.string().min(1), id: z.string() });

const requestFields = z.strictObject({
  agent: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  session: z.string().min(1).max(256).optional(),
  action: z.string().min(1).max(256),
  resource: z.strictObject({
    type: z.string().min(1),
    id: z.string(),
    attrs: z.record(z.string(), z.unknown()).optional(),
    parents: z.array(entityRef).max(256).optional(),
  }),
  input: z.unknown().optional(),
  content: z.string().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  pep: z.string().max(64).optional(),
  parent: z.string().min(1).max(128).optional(),
  documents: z
    .array(z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a digest "sha256:<64 hex>"'))
    .max(1024)
    .optional(),
});

function refuseReservedKeys(r: z.infer<typeof requestFields>, ctx: z.RefinementCtx): void {
  for (const k of RESERVED_CONTEXT_KEYS) {
    if (r.context && Object.hasOwn(r.context, k)) {
      ctx.addIssue({
        code: 'custom',
        path: ['context', k],
        message: `"${k}" is set by Cordon and may not be supplied by the caller`,
      });
    }
  }
}

export const actionRequestSchema = requestFields.superRefine((r, ctx) => {
  if (!r.agent && !r.token) {
    ctx.addIssue({
      code: 'custom',
      path: ['agent'],
      message: 'an acting agent (or a delegation token) is required',
    });
  }
  refuseReservedKeys(r, ctx);
});

/**
 * For trusted in-process callers (policy tests): also a user acting in person, with no agent
 * (an approver). Over HTTP every request needs an agent.
 */
export const inPersonOrAgentRequestSchema = requestFields.superRefine((r, ctx) => {
  if (!r.agent && !r.token && !r.user) {
    ctx.addIssue({
      code: 'custom',
      path: ['agent'],
      message: 'an acting agent, a delegation token, or a user acting in person is required',
    });
  }
  refuseReservedKeys(r, ctx);
});

export class RequestError extends Error {}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}

export function parseActionRequest(body: unknown): ActionRequest {
  const r = actionRequestSchema.safeParse(body);
  if (!r.success) throw new RequestError(formatIssues(r.error));
  return r.data as ActionRequest;
}
