// Delegation tokens: EdDSA JWTs whose subject is the originating user, whose nested RFC 8693
// `act` claims are the chain of agents (the current actor outermost), with a scope ceiling,
// a delegation depth, an audience, an expiry and a jti. Verification rejects anything not
// signed by one of our keys with EdDSA (`alg: none` included), expired, for another audience,
// revoked, or whose chain does not match its depth.

import { randomUUID } from 'node:crypto';
import {
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  decodeProtectedHeader,
  type JWTPayload,
} from 'jose';
import { parseScope, ScopeError, type ScopeItem } from '../core/token-scope.js';
import type { VerifiedDelegation } from '../core/stages/identity.js';
import type { RevocationCheck } from '../store/cache/revocations.js';
import type { TokenKey } from './token-keys.js';

export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const DEFAULT_AUDIENCE = 'cordon';
/** The `iss` of Cordon's delegation tokens (other JWTs in the same header are not ours). */
export const ISSUER = 'cordon';
const MAX_DEPTH = 32;

export class TokenError extends Error {}

interface ActClaim {
  sub: string;
  act?: ActClaim;
}

export interface IssueRequest {
  user: string;
  /** Agents from the originating side to the one that will hold the token. */
  chain: string[];
  scope: string;
  ttlSeconds: number;
  audience?: string;
  /** The token never outlives its parent. */
  notAfter?: number;
  /** The jtis of the tokens it is minted from, root first: revoking any of them revokes it. */
  lineage?: string[];
}

/** The chain as nested `act` claims: the last (current) actor outermost. */
function actClaim(chain: string[]): ActClaim {
  let act: ActClaim | undefined;
  for (const agent of chain) act = act ? { sub: agent, act } : { sub: agent };
  return act!;
}

/** Nested `act` claims back to the chain, originating side first. */
function chainOf(act: unknown): string[] {
  const out: string[] = [];
  let node = act as ActClaim | undefined;
  while (node !== undefined) {
    if (
      typeof node !== 'object' ||
      node === null ||
      typeof node.sub !== 'string' ||
      node.sub === ''
    ) {
      throw new TokenError('malformed act claim');
    }
    const extra = Object.keys(node).filter((k) => k !== 'sub' && k !== 'act');
    if (extra.length > 0)
      throw new TokenError(`unexpected members in act claim: ${extra.join(', ')}`);
    out.push(node.sub);
    if (out.length > MAX_DEPTH) throw new TokenError('act chain too long');
    node = node.act;
  }
  return out.reverse();
}

/** A key that only verifies (from a JWKS): a TokenService over such keys cannot issue. */
export type VerifyingKey = Pick<TokenKey, 'kid' | 'publicKey'> &
  Partial<Pick<TokenKey, 'privateKey'>>;

export class TokenService {
  constructor(
    private readonly keys: VerifyingKey[],
    private readonly revocations: RevocationCheck,
    /** The audience tokens presented to this PDP must carry. */
    readonly audience = DEFAULT_AUDIENCE,
  ) {
    if (keys.length === 0) throw new Error('no token signing key');
  }

  /** Whether the agent's revocation is in force (no token is minted for it). */
  agentRevoked(agent: string): boolean {
    return this.revocations.agentRevoked(agent);
  }

  private get signingKey(): TokenKey {
    const key = this.keys.at(-1)!;
    if (!key.privateKey) throw new TokenError('this token service only verifies (no private key)');
    return key as TokenKey;
  }

  async issue(r: IssueRequest): Promise<{ token: string; jti: string; expiresAt: number }> {
    if (r.chain.length === 0) throw new TokenError('a token needs an acting agent');
    if (r.chain.length > MAX_DEPTH) throw new TokenError(`delegation chains stop at ${MAX_DEPTH}`);
    parseScope(r.scope);
    // Exchange names one ancestor per hop; a chain issued whole (by a trusted caller) has fewer.
    const lineage = r.lineage ?? [];
    if (lineage.length > r.chain.length - 1)
      throw new TokenError('a token descends from at most one token per earlier agent');
    const revoked = r.chain.find((a) => this.revocations.agentRevoked(a));
    if (revoked !== undefined)
      throw new TokenError(
        `agent "${revoked}" is revoked: nothing is delegated to it until it is reinstated`,
      );
    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + r.ttlSeconds, r.notAfter ?? Infinity);
    if (exp <= now) throw new TokenError('the parent token expires too soon to delegate');
    const jti = randomUUID();
    const token = await new SignJWT({
      act: actClaim(r.chain),
      scope: r.scope,
      delegation_depth: r.chain.length,
      ...(lineage.length > 0 ? { delegated_from: lineage } : {}),
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.signingKey.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(r.user)
      .setAudience(r.audience ?? this.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.signingKey.privateKey);
    return { token, jti, expiresAt: exp };
  }

  /** Checks everything about a token; the delegation it carries, or a TokenError saying why not. */
  async verify(
    token: string,
    audience = this.audience,
  ): Promise<VerifiedDelegation & { payload: JWTPayload; lineage: string[] }> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenError('not a JWT');
    }
    const key = this.keys.find((k) => k.kid === kid);
    if (!key) throw new TokenError(`unknown signing key ${kid ?? '(no kid)'}`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.publicKey, {
        algorithms: ['EdDSA'],
        issuer: ISSUER,
        audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new TokenError('token expired');
      if (e instanceof joseErrors.JWTClaimValidationFailed)
        throw new TokenError(
          `token claim "${e.claim}" ${e.reason === 'check_failed' ? 'is wrong' : e.reason}`,
        );
      if (e instanceof joseErrors.JWSSignatureVerificationFailed)
        throw new TokenError('token signature does not verify');
      if (e instanceof joseErrors.JOSEAlgNotAllowed)
        throw new TokenError('token algorithm not allowed (EdDSA only)');
      throw new TokenError(`invalid token: ${(e as Error).message}`);
    }
    const chain = chainOf(payload.act);
    if (chain.length === 0) throw new TokenError('token has no acting agent (act claim)');
    if (payload.delegation_depth !== chain.length)
      throw new TokenError('delegation depth does not match the act chain');
    if (typeof payload.scope !== 'string') throw new TokenError('token has no scope');
    let scope: ScopeItem[];
    try {
      scope = parseScope(payload.scope);
    } catch (e) {
      throw new TokenError(`token scope: ${(e as ScopeError).message}`);
    }
    const lineage = payload.delegated_from ?? [];
    if (
      !Array.isArray(lineage) ||
      lineage.length > chain.length - 1 ||
      !lineage.every((j) => typeof j === 'string' && j !== '')
    )
      throw new TokenError('malformed delegated_from claim');
    const revoked = this.revocations.check(
      payload.jti!,
      chain,
      payload.iat! * 1000,
      lineage as string[],
    );
    if (revoked) throw new TokenError(revoked);
    return {
      user: payload.sub!,
      agent: chain.at(-1)!,
      chain,
      depth: chain.length,
      scope,
      scopeText: payload.scope,
      jti: payload.jti!,
      expiresAt: payload.exp!,
      issuedAt: payload.iat!,
      audience: audience,
      payload,
      lineage: lineage as string[],
    };
  }
}
