// Control-plane actions are Cedar actions like any other (revokeToken, reinstateAgent,
// readAudit, readApprovals, approve, reload, isolate, readIsolation, and the console's signIn,
// viewDecisions, viewAgents, editPolicy, verifyAudit): the authenticated caller is the
// principal, the decision is recorded in the audit log, and anything but allow is a 403 that
// names the policies. The local admin is the user `cordon-admin` in Role::"cordon-admin"
// (the shipped policies permit that role), whether or not entities.json lists it.

import type { FastifyReply } from 'fastify';
import { LOCAL_ADMIN, type StandInUser } from '../../core/stages/identity.js';
import type { ActionRequest, Decision, ResourceRef } from '../../core/types.js';
import type { Caller } from './auth.js';
import type { DecisionService } from '../../decision/service.js';

export const ADMIN_USER = LOCAL_ADMIN.id;
const ADMIN_STAND_IN = LOCAL_ADMIN;

export type ControlAction =
  | 'revokeToken'
  | 'reinstateAgent'
  | 'readAudit'
  | 'readApprovals'
  | 'reload'
  | 'isolate'
  | 'readIsolation'
  | 'readBaseline'
  | 'manageBaseline'
  // The console (console/): signing in, and what each page shows or does.
  | 'signIn'
  | 'viewDecisions'
  | 'viewAgents'
  | 'editPolicy'
  | 'verifyAudit';

/** The control plane as a resource, for actions on no more specific thing. */
export const controlPlane = (
  part: 'audit' | 'approvals' | 'policies' | 'isolation' | 'console' | 'decisions' | 'agents',
): ResourceRef => ({
  type: 'ControlPlane',
  id: part,
});

export class ControlDenied extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
    readonly decision?: Decision,
  ) {
    super(message);
  }
}

/** The user id a person or admin caller acts as in person, or undefined for other callers. */
export function inPerson(caller: Caller): { user: string; standIn?: StandInUser } | undefined {
  if (caller.kind === 'admin') return { user: ADMIN_USER, standIn: ADMIN_STAND_IN };
  if (caller.kind === 'person') return { user: caller.user };
  return undefined;
}

/** Decides (and records) a control-plane action by `caller`; resolves only when it is allowed. */
export async function authorizeControl(
  decisions: DecisionService,
  caller: Caller,
  action: ControlAction,
  resource: ResourceRef,
  input?: Record<string, unknown>,
): Promise<Decision> {
  const base: ActionRequest = {
    action,
    resource,
    pep: 'control',
    ...(input ? { input } : {}),
  };
  const who = inPerson(caller);
  let d: Decision;
  if (who) d = await decisions.decideHuman({ ...base, user: who.user }, who.standIn);
  // An agent's control request never opens an approval request nor uses one.
  else if (caller.kind === 'agent')
    d = await decisions.decideVisibility({ ...base, token: caller.token });
  else throw new ControlDenied(401, 'the control plane needs an authenticated caller');
  if (d.decision !== 'allow') {
    const why = [
      ...new Set(d.reasons.map((r) => (r.message ? `${r.policy}: ${r.message}` : r.policy))),
    ];
    throw new ControlDenied(
      403,
      `${describe(caller)} may not ${action} ${resource.type}::"${resource.id}": ${why.join('; ') || 'no policy permits it'}`,
      d,
    );
  }
  return d;
}

export function describe(caller: Caller): string {
  switch (caller.kind) {
    case 'admin':
      return ADMIN_USER;
    case 'person':
      return `user ${caller.user}`;
    case 'agent':
      return `agent ${caller.agent} (for ${caller.user})`;
    case 'pep':
      return `PEP ${caller.name}`;
    default:
      return 'an anonymous caller';
  }
}

/** Sends a ControlDenied as {"error", "decisionId", "reasons"}. */
export function sendDenied(reply: FastifyReply, e: ControlDenied): FastifyReply {
  return reply.code(e.status).send({
    error: e.message,
    ...(e.decision ? { decisionId: e.decision.decisionId, reasons: e.decision.reasons } : {}),
  });
}
