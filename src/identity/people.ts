// People: the organisation's identity provider vouches for them with a JWT (issuer, audience,
// and a JWKS URL or a static public key); a claim names the user. Operators and approvers
// authenticate this way. Cordon's own delegation tokens never name a person: agents hold them.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

export interface PeopleIssuer {
  issuer: string;
  audience: string;
  jwks?: string | undefined;
  keyFile?: string | undefined;
  /** The claim naming the user id (default sub). */
  userClaim?: string | undefined;
}

export class PersonTokenError extends Error {}

/** Verifies an identity provider's JWT; resolves to the user id it names. */
export type PersonVerifier = (jwt: string) => Promise<string>;

export async function personVerifier(issuer: PeopleIssuer): Promise<PersonVerifier> {
  const key: KeyObject | JWTVerifyGetKey = issuer.jwks
    ? createRemoteJWKSet(new URL(issuer.jwks))
    : createPublicKey(await readFile(issuer.keyFile!, 'utf8'));
  const claim = issuer.userClaim ?? 'sub';
  return async (jwt) => {
    let user: unknown;
    try {
      const { payload } = await jwtVerify(jwt, key as KeyObject, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
      });
      user = payload[claim];
    } catch (e) {
      throw new PersonTokenError(`identity provider token rejected: ${(e as Error).message}`);
    }
    if (typeof user !== 'string' || !user)
      throw new PersonTokenError(`identity provider token has no "${claim}" claim`);
    return user;
  };
}
