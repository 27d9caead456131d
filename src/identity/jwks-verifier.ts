// Verifying Cordon delegation tokens outside the PDP, from its published keys (GET
// /.well-known/jwks.json of a `cordon serve`): signature, issuer, audience, expiry, the act
// chain and its depth, the scope. Revocations live in the PDP's store, so a verifier built from
// keys alone cannot see them unless the caller passes a check: the PDP's decision stays the one
// that counts.

import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { VerifiedDelegation } from '../core/stages/identity.js';
import type { RevocationCheck } from '../store/cache/revocations.js';
import { DEFAULT_AUDIENCE, TokenError, TokenService } from './tokens.js';

export interface JwksVerifierOptions {
  /** The PDP's JWKS (its Ed25519 public keys, each with a kid). */
  jwks: { keys: JWK[] };
  /** The audience tokens must carry (default "cordon"). */
  audience?: string;
  /** Revocations, when the caller knows them (default: none are known). */
  revocations?: RevocationCheck;
}

const NONE_KNOWN: RevocationCheck = { agentRevoked: () => false, check: () => undefined };

/** A verifier over published keys; `verify` throws a TokenError saying why a token is refused. */
export function jwksTokenVerifier(o: JwksVerifierOptions): {
  verify(token: string): Promise<VerifiedDelegation>;
} {
  const keys = o.jwks.keys.map((k) => {
    if (typeof k.kid !== 'string' || k.kty !== 'OKP' || k.crv !== 'Ed25519')
      throw new TokenError(
        `JWKS key ${k.kid ?? '(no kid)'}: expected an Ed25519 (OKP) key with a kid`,
      );
    const { d: _private, ...pub } = k;
    return { kid: k.kid, publicKey: createPublicKey({ key: pub as never, format: 'jwk' }) };
  });
  const service = new TokenService(
    keys,
    o.revocations ?? NONE_KNOWN,
    o.audience ?? DEFAULT_AUDIENCE,
  );
  return {
    async verify(token) {
      const { payload: _p, lineage: _l, ...delegation } = await service.verify(token);
      return delegation;
    },
  };
}
