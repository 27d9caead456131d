// Validation of ActionRequest as it arrives from outside (HTTP, CLI, SDK): every problem is
// reported by path, and the keys only Cordon may set are refused rather than silently dropped.
// checkRecordable is the one check every PEP's request passes before it is decided: a value the
// audit record cannot hold (canonical JSON) is the caller's error, never a failed audit log.

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
  paths: z
    .array(
      z
        .string()
        .startsWith('/', 'an absolute path')
        .refine((p) => !p.includes('\0'), 'a path without NUL bytes'),
    )
    .max(4096)
    .optional(),
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

/** Bad input from the caller; `statusCode` makes HTTP routes answer it with a 400. */
export class RequestError extends Error {
  readonly statusCode = 400;
}

/** Deepest nesting of objects and arrays a request (or an LLM request body) may have. */
export const MAX_NESTING = 128;

/** In Unicode mode a surrogate pair is one code point: this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

interface Node {
  v: unknown;
  key: string | number;
  parent: Node | undefined;
  depth: number;
}

/** The dotted path of a node, built only for the message. */
function pathOf(n: Node | undefined): string {
  const keys: (string | number)[] = [];
  for (; n?.parent; n = n.parent) keys.unshift(n.key);
  return keys.length > 0 ? ` at ${keys.join('.')}` : '';
}

/**
 * The first reason `value` cannot be decided and recorded, or undefined when it can: nesting
 * deeper than MAX_NESTING, a number JSON cannot write (1e999 parses to Infinity), a string or
 * key holding a lone surrogate (RFC 8785 refuses them). Iterative, so no depth overflows it.
 */
export function unrecordable(value: unknown, maxDepth = MAX_NESTING): string | undefined {
  const stack: Node[] = [{ v: value, key: '', parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const v = n.v;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return `a string with a lone surrogate${pathOf(n)}`;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `a number out of range${pathOf(n)}`;
    } else if (typeof v === 'bigint') {
      return `an integer out of range${pathOf(n)}`;
    } else if (v !== null && typeof v === 'object') {
      if (n.depth >= maxDepth) return `nesting deeper than ${maxDepth} levels${pathOf(n)}`;
      const depth = n.depth + 1;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) stack.push({ v: v[i], key: i, parent: n, depth });
      } else {
        for (const key of Object.keys(v)) {
          if (LONE_SURROGATE.test(key)) return `a key with a lone surrogate${pathOf(n)}`;
          stack.push({ v: (v as Record<string, unknown>)[key], key, parent: n, depth });
        }
      }
    }
  }
  return undefined;
}

/** Throws RequestError when the request holds what its audit record could not. */
export function checkRecordable(request: ActionRequest): void {
  const problem = unrecordable(request);
  if (problem) throw new RequestError(`the request cannot be decided: ${problem}`);
}

/** Zod issues as `path: message`; a record key's or map element's own issues keep their message. */
export function formatIssues(error: z.ZodError): string {
  const lines: string[] = [];
  const walk = (issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]) => {
    for (const i of issues) {
      const path = [...prefix, ...i.path];
      // "Invalid key in record" hides why: the key schema's issues say it.
      if ((i.code === 'invalid_key' || i.code === 'invalid_element') && i.issues.length > 0)
        walk(i.issues, path);
      else lines.push(`${path.length ? path.map(String).join('.') : '(body)'}: ${i.message}`);
    }
  };
  walk(error.issues, []);
  return lines.join('; ');
}

export function parseActionRequest(body: unknown): ActionRequest {
  const r = actionRequestSchema.safeParse(body);
  if (!r.success) throw new RequestError(formatIssues(r.error));
  checkRecordable(r.data as ActionRequest);
  return r.data as ActionRequest;
}
