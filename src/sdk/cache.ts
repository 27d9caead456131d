// The remote SDK's local decision cache. Policies decide what may be cached, never the client:
// a decision is kept only when every policy that determined it carries `@cache_ttl("SECONDS")`,
// and for the shortest of those times (capped by the client's maxTtlMs). Nothing of Cordon's
// own (a default deny, an error, an approval, an isolation) is ever cached, nor a decision with
// obligations other than redaction. Entries are keyed by the exact request (canonical JSON of
// identity, action, resource, input, context), bounded in number, least recently used first out.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { ActionRequest, Decision } from '../core/types.js';

export interface DecisionCacheOptions {
  /** Most decisions kept (default 1,000). */
  maxEntries?: number;
  /** The longest any decision is kept, whatever the policy says (default 60 s). */
  maxTtlMs?: number;
  /** For tests: the time now, in ms. */
  now?: () => number;
}

/** The annotation that marks a policy's decisions cacheable, for this many seconds. */
export const CACHE_ANNOTATION = 'cache_ttl';

/** How long `d` may be reused, in ms, by what its determining policies say; 0: not at all. */
export function cacheableFor(d: Decision): number {
  if (d.decision === 'require_approval' || d.approval || d.errors?.length) return 0;
  if (d.reasons.length === 0) return 0;
  if (d.obligations.some((o) => o.type !== 'redact')) return 0;
  let ttl = Infinity;
  for (const r of d.reasons) {
    if (r.policy.startsWith('cordon/')) return 0;
    const raw = r.annotations[CACHE_ANNOTATION];
    if (raw === undefined || !/^[1-9]\d{0,5}$/.test(raw)) return 0;
    ttl = Math.min(ttl, Number(raw) * 1000);
  }
  return ttl;
}

interface Entry {
  decision: Decision;
  expires: number;
}

export class DecisionCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;

  constructor(o: DecisionCacheOptions = {}) {
    this.maxEntries = o.maxEntries ?? 1_000;
    this.maxTtlMs = o.maxTtlMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(request: ActionRequest): Decision | undefined {
    if (this.maxEntries <= 0) return undefined;
    const k = key(request);
    if (k === undefined) return undefined;
    const e = this.entries.get(k);
    if (!e) return undefined;
    this.entries.delete(k);
    if (e.expires <= this.now()) return undefined;
    this.entries.set(k, e); // most recently used last
    return e.decision;
  }

  put(request: ActionRequest, d: Decision): void {
    const ttl = Math.min(cacheableFor(d), this.maxTtlMs);
    if (ttl <= 0 || this.maxEntries <= 0) return;
    const k = key(request);
    if (k === undefined) return;
    this.entries.delete(k);
    this.entries.set(k, { decision: d, expires: this.now() + ttl });
    while (this.entries.size > this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
  }
}

/** The request's identity: everything that can change the decision. */
function key(r: ActionRequest): string | undefined {
  let text: string | undefined;
  try {
    text = canonicalJson(r);
  } catch {
    return undefined; // not canonical JSON: the PDP refuses it anyway; never cached
  }
  return text === undefined ? undefined : createHash('sha256').update(text).digest('base64url');
}
