// Who is answering an approval request. In `token` mode only a bearer JWT signed by the
// organisation's identity provider counts (its user claim names the approver); in `trusted`
// mode the body's "approver" is believed, which is only safe when the API is reachable by
// trusted callers alone. Cordon's own delegation tokens never count: they are held by agents,
// and an agent must not be able to approve its own request.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ApprovalError } from './service.js';

export interface ApproverIssuer {
  issuer: string;
  audience: string;
  jwks?: string | undefined;
  keyFile?: string | undefined;
  userClaim?: string | undefined;
}

export interface ApproverAuthOptions {
  approvers: 'trusted' | 'token';
  issuer?: ApproverIssuer | undefined;
}

export type ApproverAuthenticator = (
  bearer: string | undefined,
  claimed: string | undefined,
) => Promise<string>;

export async function approverAuthenticator(
  o: ApproverAuthOptions,
): Promise<ApproverAuthenticator> {
  let key: KeyObject | JWTVerifyGetKey | undefined;
  const issuer = o.issuer;
  if (issuer) {
    key = issuer.jwks
      ? createRemoteJWKSet(new URL(issuer.jwks))
      : createPublicKey(await readFile(issuer.keyFile!, 'utf8'));
  }
  const fromToken = async (bearer: string): Promise<string> => {
    if (!issuer || !key)
      throw new ApprovalError(401, 'no approver token issuer is configured (approvals.issuer)');
    const claim = issuer.userClaim ?? 'sub';
    let user: unknown;
    try {
      const { payload } = await jwtVerify(bearer, key as KeyObject, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'],
      });
      user = payload[claim];
    } catch (e) {
      throw new ApprovalError(401, `approver token rejected: ${(e as Error).message}`);
    }
    if (typeof user !== 'string' || !user)
      throw new ApprovalError(401, `approver token has no "${claim}" claim`);
    return user;
  };
  return async (bearer, claimed) => {
    if (bearer !== undefined) {
      const user = await fromToken(bearer);
      if (claimed !== undefined && claimed !== user)
        throw new ApprovalError(400, `"approver" says ${claimed} but the token is ${user}`);
      return user;
    }
    if (o.approvers === 'token')
      throw new ApprovalError(401, 'an approver bearer token is required');
    if (!claimed) throw new ApprovalError(400, 'name the "approver" (a user id) or send a token');
    return claimed;
  };
}
