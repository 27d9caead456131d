// The remote decider: a `cordon serve` over HTTP (POST /v1/decide). One keep-alive connection
// pool (undici Agent) per client; every decision has a deadline, and anything but a well-formed
// answer in time (refused connection, timeout, 5xx, a body that is not a decision) fails closed:
// guard() refuses the call and never runs the function. A bounded local cache answers repeats
// only of decisions the policies marked cacheable (`@cache_ttl`, see cache.ts and docs/sdk.md).

import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import type { ActionRequest, Decision } from '../core/types.js';
import { failureFacts } from '../decision/failure.js';
import { DecisionCache, type DecisionCacheOptions } from './cache.js';
import { CordonDeniedError, sdkReason, type Decider } from './guard.js';
import { withIdentity, type IdentityDefaults } from './identity.js';

export interface RemoteOptions extends IdentityDefaults {
  /** The PDP's base URL, e.g. http://127.0.0.1:7070. */
  url: string;
  /**
   * Sent as `Authorization: Bearer …`: a PEP credential (auth.peps), or an agent's delegation
   * token (then it is the caller's identity). Optional on a loopback listener.
   */
  bearer?: string;
  /** How long one decision may take, connection included, before the call is refused (default 2 s). */
  timeoutMs?: number;
  /** The local decision cache (default 1,000 entries, 60 s at most); false: none. */
  cache?: DecisionCacheOptions | false;
  /** Keep-alive connections to the PDP (default 16). */
  connections?: number;
  /** Between re-asks while an approval is pending, when it cannot be long-polled (default 1 s). */
  approvalPollMs?: number;
}

const DEFAULT_TIMEOUT_MS = 2_000;
/** The approvals route waits at most this long per request (pep/http/approval-routes.ts). */
const MAX_LONG_POLL_SECONDS = 120;

export class RemoteDecider implements Decider {
  private readonly base: string;
  private readonly agent: Agent;
  private readonly cache: DecisionCache | undefined;
  private readonly timeoutMs: number;
  private readonly defaults: IdentityDefaults;

  constructor(private readonly o: RemoteOptions) {
    const url = new URL(o.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`Cordon remote url must be http(s): ${o.url}`);
    this.base = url.origin + url.pathname.replace(/\/$/, '');
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = new Agent({
      connections: o.connections ?? 16,
      keepAliveTimeout: 4_000,
      connectTimeout: this.timeoutMs,
    });
    this.cache = o.cache === false ? undefined : new DecisionCache(o.cache);
    const { agent, user, token, session } = o;
    this.defaults = { agent, user, token, session };
  }

  async decide(request: ActionRequest): Promise<Decision> {
    const r = withIdentity(request, this.defaults);
    const cached = this.cache?.get(r);
    if (cached) return cached;
    const d = await this.post(r);
    this.cache?.put(r, d);
    return d;
  }

  /** Decides without the cache (approval polling must see the store as it is now). */
  private async post(r: ActionRequest): Promise<Decision> {
    const { status, body } = await this.call('POST', '/v1/decide', r);
    if (status === 400)
      throw new CordonDeniedError(
        'CORDON_DENIED',
        `Cordon refused the request as malformed: ${errorText(body)}`,
        { reasons: [sdkReason('bad-request', errorText(body))] },
      );
    if (status !== 200) throw new Error(`the PDP answered HTTP ${status}: ${errorText(body)}`);
    return checkDecision(body);
  }

  /**
   * Until approval `id` is answered: long-polls GET /v1/approvals/:id when the bearer may read
   * approvals, else asks for the decision again every approvalPollMs (each ask joins the same
   * pending request). Returns the decision when it made one, so guard() does not ask again
   * (asking twice would use up a one-use grant before the call).
   */
  async awaitApproval(
    id: string,
    timeoutMs: number,
    request: ActionRequest,
  ): Promise<Decision | undefined> {
    const deadline = Date.now() + timeoutMs;
    if (this.o.bearer && (await this.longPoll(id, deadline))) return undefined;
    const r = withIdentity(request, this.defaults);
    const every = this.o.approvalPollMs ?? 1_000;
    let d: Decision | undefined;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(every, deadline - Date.now())));
      d = await this.post(r);
      if (d.decision !== 'require_approval') return d;
    }
    return d;
  }

  /** True once the approval is no longer pending or the deadline passed; false: cannot read it. */
  private async longPoll(id: string, deadline: number): Promise<boolean> {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) return true;
      const wait = Math.min(MAX_LONG_POLL_SECONDS, Math.ceil(left / 1000));
      const { status, body } = await this.call(
        'GET',
        `/v1/approvals/${encodeURIComponent(id)}?wait=${wait}`,
        undefined,
        wait * 1000 + this.timeoutMs,
      );
      if (status === 401 || status === 403) return false;
      if (status !== 200) throw new Error(`the PDP answered HTTP ${status}: ${errorText(body)}`);
      if ((body as { status?: unknown }).status !== 'pending') return true;
    }
  }

  private async call(
    method: Dispatcher.HttpMethod,
    path: string,
    json: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; body: unknown }> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await undiciRequest(this.base + path, {
        method,
        dispatcher: this.agent,
        signal,
        headers: {
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.o.bearer ? { authorization: `Bearer ${this.o.bearer}` } : {}),
        },
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      });
      const text = await res.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = { error: text.slice(0, 200) };
      }
      return { status: res.statusCode, body };
    } catch (e) {
      if (signal.aborted)
        throw new Error(`no answer from the PDP at ${this.base} within ${timeoutMs} ms`, {
          cause: e,
        });
      throw new Error(`the PDP at ${this.base} cannot be reached: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /**
   * Reports that the call `decision` allowed threw (POST /v1/decisions/:id/failure): the PDP
   * records it as an event under the decision. Best effort: a failure to report is not the
   * caller's error (guard() ignores it), the tool's own error is.
   */
  async recordFailure(_request: ActionRequest, decision: Decision, error: unknown): Promise<void> {
    const { status, body } = await this.call(
      'POST',
      `/v1/decisions/${encodeURIComponent(decision.decisionId)}/failure`,
      failureFacts(error),
    );
    if (status !== 201) throw new Error(`the PDP answered HTTP ${status}: ${errorText(body)}`);
  }

  /** Closes the connections (in-flight decisions finish first). */
  close(): Promise<void> {
    return this.agent.close();
  }
}

function errorText(body: unknown): string {
  const e = (body as { error?: unknown } | null)?.error;
  return typeof e === 'string' ? e : JSON.stringify(body).slice(0, 200);
}

const OUTCOMES = new Set(['allow', 'deny', 'require_approval']);

/** The body as a Decision, or an error: an answer that is not one must never allow anything. */
function checkDecision(body: unknown): Decision {
  const d = body as Partial<Decision> | null;
  if (
    !d ||
    typeof d !== 'object' ||
    !OUTCOMES.has(d.decision as string) ||
    typeof d.decisionId !== 'string' ||
    !Array.isArray(d.reasons) ||
    !Array.isArray(d.obligations)
  )
    throw new Error(`the PDP's answer is not a decision: ${JSON.stringify(body).slice(0, 200)}`);
  return d as Decision;
}
