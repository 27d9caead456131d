// The one way the console talks to Cordon: same-origin fetches that carry the session cookie,
// with the CSRF header on every state change, and errors turned into messages a person can act
// on (a 403 names the policies that refused, as the server says them). Nothing here decides who
// may do what: the server does, and the page only shows its answer.

/** The header the server checks on every request that changes state (docs/api.md). */
export const CSRF_HEADER = 'x-cordon-csrf';

let csrf: string | undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Called when the server says the session is gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

/** The session is gone (a 401): only a page that was signed in is signed out. */
export function sessionEnded(): void {
  if (!csrf) return;
  csrf = undefined;
  onSignedOut();
}

interface ErrorBody {
  error?: string;
  reasons?: { policy?: string }[];
  policies?: string[];
}

/** The message of an error answer: the server's `error`, and the policies a 403 names. */
export function errorMessage(status: number, body: unknown): string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as ErrorBody;
  let msg = b.error ?? `the server answered ${status}`;
  const policies = b.policies ?? b.reasons?.map((r) => r.policy).filter(Boolean);
  if (status === 403 && policies?.length && !policies.every((p) => msg.includes(p!)))
    msg += ` (policies: ${policies.join(', ')})`;
  return msg;
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  opts: { text?: boolean; signal?: AbortSignal; signIn?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  // Signing in is the one change made before there is a session (the server checks its Origin).
  if (method !== 'GET' && !opts.signIn) {
    if (!csrf) throw new ApiError(401, 'not signed in', undefined);
    headers[CSRF_HEADER] = csrf;
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  if (opts.text && res.ok) return (await res.text()) as T;
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: kept as text */
  }
  if (!res.ok) {
    // A first visit's check or a failed sign-in is not a session that ended (sessionEnded).
    if (res.status === 401) sessionEnded();
    throw new ApiError(res.status, errorMessage(res.status, parsed), parsed);
  }
  return parsed as T;
}

export const get = <T>(path: string, signal?: AbortSignal) =>
  request<T>('GET', path, undefined, { signal });
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
