// The credential-rotation hook: a configured URL is told of every isolation applied or released
// here (event `isolation.applied` / `isolation.released`, the state in the body, signed with
// HMAC-SHA256 like the approvals webhook), so an external secret store can rotate what Cordon
// does not hold. Delivery runs in the background and never delays the isolation itself.

import type { Logger } from 'pino';
import { postWebhook, type WebhookOptions } from '../approval/webhook.js';
import type { IsolationChange } from './service.js';

export function isolationWebhook(o: WebhookOptions, log: Logger): (c: IsolationChange) => void {
  return (c) =>
    postWebhook(
      o,
      `isolation.${c.kind}`,
      {
        event: `isolation.${c.kind}`,
        isolation: c.state,
        ...(c.by !== undefined ? { releasedBy: c.by } : {}),
        ...(c.reason !== undefined ? { releaseReason: c.reason } : {}),
      },
      log,
      'isolation',
      { agent: c.state.agent },
    );
}
