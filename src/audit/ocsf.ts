// OCSF export: each decision as an API Activity event (class 6003) with the security_control
// profile (action, disposition, policy), so SIEMs that speak OCSF take Cordon's log as is.

import type { AuditRecord } from './record.js';

const OCSF_VERSION = '1.3.0';
const API_ACTIVITY = 6003;
const ACTIVITY_OTHER = 99;

const DISPOSITION: Record<string, [number, string]> = {
  allow: [1, 'Allowed'],
  deny: [2, 'Blocked'],
  require_approval: [14, 'Delayed'],
  isolate: [4, 'Isolated'],
};

export function toOcsf(rec: AuditRecord, product: { version: string; logName: string }) {
  const isolated = rec.obligations.some((o) => o.type === 'isolate');
  const [dispositionId, disposition] = DISPOSITION[isolated ? 'isolate' : rec.decision]!;
  const allowed = rec.decision === 'allow';
  const determining = rec.reasons[0];
  return {
    category_uid: 6,
    category_name: 'Application Activity',
    class_uid: API_ACTIVITY,
    class_name: 'API Activity',
    activity_id: ACTIVITY_OTHER,
    activity_name: rec.kind ? `${rec.action} ${rec.kind}` : rec.action,
    type_uid: API_ACTIVITY * 100 + ACTIVITY_OTHER,
    time: Date.parse(rec.time),
    severity_id: allowed ? 1 : 3,
    severity: allowed ? 'Informational' : 'Medium',
    status_id: allowed ? 1 : 2,
    status: allowed ? 'Success' : 'Failure',
    action_id: allowed ? 1 : 2,
    action: allowed ? 'Allowed' : 'Denied',
    disposition_id: dispositionId,
    disposition,
    metadata: {
      version: OCSF_VERSION,
      uid: rec.id,
      log_name: product.logName,
      sequence: rec.seq,
      profiles: ['security_control'],
      product: { name: 'Cordon', vendor_name: 'Cordon', version: product.version },
    },
    actor: {
      app_name: rec.agent,
      ...(rec.user ? { user: { uid: rec.user } } : {}),
      ...(rec.session ? { session: { uid: rec.session } } : {}),
    },
    api: { operation: rec.action, service: { name: rec.pep } },
    src_endpoint: { name: rec.pep },
    resources: [{ uid: rec.resource.id, type: rec.resource.type }],
    ...(determining
      ? {
          policy: { uid: determining.policy, name: determining.policy, version: rec.policyVersion },
        }
      : {}),
    risk_score: rec.facts.risk.score,
    risk_level: rec.facts.risk.level,
    unmapped: {
      decision: rec.decision,
      reasons: rec.reasons,
      obligations: rec.obligations,
      delegation: rec.facts.delegation,
      parent: rec.parent,
    },
  };
}
