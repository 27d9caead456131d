// Who is calling the HTTP gateway: a bearer JWT, either one of Cordon's delegation tokens or a
// token from the organisation's own issuer (issuer, audience, and a JWKS URL or a static public
// key), whose claims name the agent and the user.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { TokenService } from '../../identity/tokens.js';
import type { GatewayIdentity } from './gateway.js';

export interface ExternalIssuer {
  issuer: string;
  audience: string;
  /** A JWKS URL, or a PEM public key file. */
  jwks?: string;
  keyFile?: string;
  /** Claim naming the agent (default azp) and the user (default sub). */
  agentClaim?: string;
  userClaim?: string;
}

export interface Caller {
  identity: GatewayIdentity;
  /** Stable key of the user and agent, to bind a session to them. */
  principal: string;
}

export class BearerError extends Error {}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750), if there is one. */
export function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
}

export async function bearerAuthenticator(
  tokens: TokenService,
  external?: ExternalIssuer,
): Promise<(bearer: string) => Promise<Caller>> {
  let key: KeyObject | JWTVerifyGetKey | undefined;
  if (external) {
    if (!!external.jwks === !!external.keyFile)
      throw new BearerError('an external issuer needs exactly one of a JWKS URL or a key file');
    key = external.jwks
      ? createRemoteJWKSet(new URL(external.jwks))
      : createPublicKey(await readFile(external.keyFile!, 'utf8'));
  }
  return async (bearer) => {
    if (external && key) {
      try {
        const { payload } = await jwtVerify(bearer, key as KeyObject, {
          issuer: external.issuer,
          audience: external.audience,
          algorithms: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
        });
        const agent = payload[external.agentClaim ?? 'azp'];
        const user = payload[external.userClaim ?? 'sub'];
        if (typeof agent !== 'string' || !agent)
          throw new BearerError(
            `token has no "${external.agentClaim ?? 'azp'}" claim naming the agent`,
          );
        const identity: GatewayIdentity =
          typeof user === 'string' && user ? { agent, user } : { agent };
        return { identity, principal: `${identity.user ?? ''}\u0000${agent}` };
      } catch (e) {
        if (e instanceof BearerError) throw e;
        // Not the external issuer's: it may still be one of Cordon's delegation tokens.
      }
    }
    try {
      const v = await tokens.verify(bearer);
      return { identity: { token: bearer }, principal: `${v.user}\u0000${v.agent}` };
    } catch (e) {
      throw new BearerError((e as Error).message);
    }
  };
}
