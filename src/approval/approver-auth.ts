// Who is answering an approval request: the authenticated caller, never a name in the body
// unless the configuration opts into that for local development.
//
//   authenticated (default)  a person (identity provider token) answers as themselves; the local
//                            admin credential answers as the admin (user cordon-admin)
//   token                    only people's identity provider tokens answer
//   trusted                  as authenticated, and the admin credential may name the approver in
//                            the body ("approver"): for local development only (a startup warning)
//
// Agents never answer approvals: their delegation tokens are refused whatever the mode, so an
// agent cannot approve its own request. Policy then decides whether the approver may answer.

import type { StandInUser } from '../core/stages/identity.js';
import type { Caller } from '../pep/http/auth.js';
import { inPerson } from '../pep/http/control.js';
import { ApprovalError } from './service.js';

export type ApproverMode = 'authenticated' | 'token' | 'trusted';

export interface Approver {
  user: string;
  /** Set for the local admin, whom entities.json need not list. */
  standIn?: StandInUser;
}

export function approverOf(
  mode: ApproverMode,
  caller: Caller,
  named: string | undefined,
): Approver {
  if (caller.kind === 'agent')
    throw new ApprovalError(
      403,
      `agent ${caller.agent} holds a delegation token: agents never answer approval requests`,
    );
  const who = inPerson(caller);
  if (!who) throw new ApprovalError(401, 'an approver must authenticate');
  if (caller.kind === 'admin') {
    if (mode === 'token')
      throw new ApprovalError(
        403,
        "approvals.approvers is token: only a person's identity provider token answers",
      );
    if (named !== undefined) {
      if (mode !== 'trusted')
        throw new ApprovalError(
          400,
          `"approver" names someone else; only approvals.approvers: trusted believes a named approver`,
        );
      return { user: named };
    }
    return who.standIn ? { user: who.user, standIn: who.standIn } : { user: who.user };
  }
  if (named !== undefined && named !== who.user)
    throw new ApprovalError(400, `"approver" says ${named} but the token is ${who.user}`);
  return { user: who.user };
}
