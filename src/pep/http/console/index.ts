// The web console's side of the HTTP API (docs/api.md "Console API", docs/console.md): sign-in
// and sessions, the decisions, approvals, agents, policies and audit pages' routes, and the
// built console itself at /ui/. Each route group lives in its own module; this one wires them.

import type { FastifyInstance } from 'fastify';
import type { ConsoleContext, ConsoleOptions } from './common.js';
import { registerAgentRoutes } from './agent-routes.js';
import { registerApprovalStream } from './approval-stream.js';
import { registerAuditConsoleRoutes } from './audit-routes.js';
import { registerDecisionRoutes } from './decision-routes.js';
import { LogFeed } from './feed.js';
import { registerPolicyRoutes } from './policy-routes.js';
import { registerSessionRoutes } from './session-routes.js';
import { closeStreamsOnShutdown } from './sse.js';
import { registerStaticRoutes } from './static.js';

export type { ConsoleOptions } from './common.js';
export { ConsoleSessions } from './sessions.js';

export function registerConsoleRoutes(app: FastifyInstance, o: ConsoleOptions): void {
  const feed = new LogFeed();
  feed.attach(o.decisions);
  const c: ConsoleContext = { ...o, feed };
  closeStreamsOnShutdown(app);
  registerSessionRoutes(app, c);
  const audit = o.decisions.audit;
  if (audit) {
    registerDecisionRoutes(app, c, audit);
    registerAuditConsoleRoutes(app, c, audit);
  }
  registerPolicyRoutes(app, c);
  registerAgentRoutes(app, c);
  if (o.approvals) registerApprovalStream(app, c, o.approvals);
  registerStaticRoutes(app, o.uiDir);
}
