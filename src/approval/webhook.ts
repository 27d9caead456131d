// Tells a configured URL when an approval is requested or answered, so a human hears of it
// (chat bot, ticket, pager). Delivery never delays a decision: it runs in the background, is
// retried, and a failure is logged. With a secret, the body is signed (HMAC-SHA256).

import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Approval } from './approval.js';
import type { ApprovalEvent } from './service.js';

export interface WebhookOptions {
  url: string;
  /** Signs each body: header `x-cordon-signature: sha256=<hex HMAC of the body>`. */
  secret?: string;
  attempts?: number;
  timeoutMs?: number;
}

export const signatureOf = (secret: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Posts `payload` as JSON to the webhook in the background, signed when it has a secret,
 * retried with backoff; a final failure is logged with `what` and `fields`, never thrown.
 */
export function postWebhook(
  o: WebhookOptions,
  event: string,
  payload: unknown,
  log: Logger,
  what: string,
  fields: Record<string, unknown>,
): void {
  const attempts = o.attempts ?? 3;
  const timeoutMs = o.timeoutMs ?? 5000;
  const deliver = async () => {
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-cordon-event': event,
    };
    if (o.secret) headers['x-cordon-signature'] = signatureOf(o.secret, body);
    let last = '';
    for (let i = 0; i < attempts; i++) {
      try {
        const res = await fetch(o.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250 * 2 ** i));
    }
    log.error({ event, ...fields, url: o.url, error: last }, `${what} webhook failed`);
  };
  void deliver();
}

export function webhookNotifier(
  o: WebhookOptions,
  log: Logger,
): (event: ApprovalEvent, approval: Approval) => void {
  return (event, approval) =>
    postWebhook(o, event, { event, approval }, log, 'approval', { approval: approval.id });
}
