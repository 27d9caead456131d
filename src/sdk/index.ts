// cordon/sdk: guard() and the two deciders. Loading it loads neither the HTTP server nor SQLite:
// the remote decider needs only undici, and the embedded one (the whole decision point, its
// stores and audit log) is loaded when `openEmbedded` is first called.

import type { EmbeddedDecider, EmbeddedOptions } from './embedded.js';

export {
  guard,
  guardRequest,
  CordonDeniedError,
  type CordonErrorCode,
  type Decider,
  type GuardOptions,
} from './guard.js';
import { RemoteDecider, type RemoteOptions } from './remote.js';
export { RemoteDecider, type RemoteOptions };
export {
  CACHE_ANNOTATION,
  cacheableFor,
  DecisionCache,
  type DecisionCacheOptions,
} from './cache.js';
export { withIdentity, type IdentityDefaults } from './identity.js';
export { redactResult } from './redact-result.js';
export type { EmbeddedDecider, EmbeddedOptions } from './embedded.js';
export type {
  ActionRequest,
  Decision,
  Obligation,
  Outcome,
  Reason,
  ResourceRef,
} from '../core/types.js';

/** The decision point in this process (policies, stores and audit log in a data directory). */
export async function openEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedDecider> {
  const { EmbeddedDecider } = await import('./embedded.js');
  return EmbeddedDecider.open(options);
}

/** A `cordon serve` over HTTP. */
export function connectRemote(options: RemoteOptions): RemoteDecider {
  return new RemoteDecider(options);
}
