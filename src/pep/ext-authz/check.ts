// One authorization check, whichever wire it came over: is the caller (Envoy, the Kubernetes
// API server) one we trust to describe requests, how does the request map, what did Cordon
// decide, and what answer enforces it. Every failure is a denial: a malformed request, a
// mapping that finds no route, a decision that throws. Never an error the proxy could be
// configured to treat as "allow" (Envoy's failure_mode_allow).

import type { Logger } from 'pino';
import { RequestError } from '../../core/request.js';
import type { ActionRequest, Decision } from '../../core/types.js';
import type { DecisionService } from '../../decision/service.js';
import type { Secret } from '../../identity/credentials.js';
import type { CheckedHttp, HttpMapping } from './mapping.js';
import { refusal, verdictOf, type Verdict } from './verdict.js';

/** Who may ask: the same credentials as the decision API's (DESIGN §3, "Who may call"). */
export interface CheckCallers {
  admin: Secret[];
  peps: { name: string; secret: Secret }[];
  /** A credential is needed on loopback listeners too (auth.required). */
  required: boolean;
}

/** The header (HTTP) or metadata key (gRPC) carrying the caller's credential. */
export const CREDENTIAL_HEADER = 'x-cordon-credential';

export type CallerCheck = { ok: true; name: string } | { ok: false; message: string };

export class ExtAuthzChecker {
  constructor(
    private readonly decisions: DecisionService,
    readonly mapping: HttpMapping,
    private readonly callers: CheckCallers,
    private readonly log: Logger,
  ) {}

  /**
   * Whether the caller may ask. Without a credential only on a loopback listener (unless
   * auth.required); a credential, when sent, must be a PEP's or the admin's.
   */
  authenticate(credential: string | undefined, loopback: boolean): CallerCheck {
    const secret = credential?.replace(/^Bearer\s+/i, '').trim();
    if (!secret) {
      if (loopback && !this.callers.required) return { ok: true, name: 'anonymous-loopback' };
      return {
        ok: false,
        message: `authentication required on this listener: send ${CREDENTIAL_HEADER}: Bearer <PEP credential>`,
      };
    }
    // Every secret is compared, so the time taken does not say which one nearly matched.
    const admin = this.callers.admin.map((s) => s.matches(secret)).includes(true);
    const pep = this.callers.peps.filter((p) => p.secret.matches(secret));
    if (pep[0]) return { ok: true, name: pep[0].name };
    if (admin) return { ok: true, name: 'admin' };
    return { ok: false, message: 'the credential is not one this server knows' };
  }

  /** Decides `request` (fail closed): the decision, or the refusal that replaces it. */
  async decide(request: ActionRequest): Promise<Decision | Verdict> {
    try {
      return await this.decisions.decide(request);
    } catch (e) {
      if (e instanceof RequestError) return refusal(400, e.message);
      this.log.error({ err: e }, 'ext_authz decision failed; denying');
      return refusal(503, 'the decision failed, so the request is denied');
    }
  }

  /** An HTTP request Envoy asks about (either variant). */
  async checkHttp(r: CheckedHttp): Promise<Verdict> {
    let mapped;
    try {
      mapped = this.mapping.map(r);
    } catch (e) {
      this.log.error({ err: e }, 'ext_authz mapping failed; denying');
      return refusal(400, 'the request could not be mapped');
    }
    if (mapped.kind === 'refuse') return refusal(mapped.status, mapped.message);
    const d = await this.decide(mapped.request);
    if (!('decisionId' in d)) return d;
    return verdictOf(d, mapped.identified, this.mapping.readsBearer);
  }
}
