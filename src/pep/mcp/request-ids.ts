// JSON-RPC ids in flight on one downstream session. A client that sends a second request with
// the id of one still running would get two answers under one id (stdio), or leave the first
// request's HTTP stream waiting forever, since the SDK's HTTP transport routes answers by id.
// The second request is answered at once with an error instead; the first runs undisturbed.

import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

type Id = string | number;

const isRequest = (m: unknown): m is { id: Id; method: string } =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as { method?: unknown }).method === 'string' &&
  (typeof (m as { id?: unknown }).id === 'string' ||
    typeof (m as { id?: unknown }).id === 'number');

/** The error a reused id gets: a JSON-RPC Invalid Request under that id. */
export function duplicateIdError(id: Id): JSONRPCMessage {
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: -32600,
      message: `request id ${JSON.stringify(id)} is already in use by a request in progress on this session`,
    },
  };
}

export class RequestIds {
  private readonly inFlight = new Set<string>();

  private static key(id: Id): string {
    // 1 and "1" are distinct ids in JSON-RPC.
    return `${typeof id}:${id}`;
  }

  /**
   * Claims the ids of the requests in `body` (one message or a batch). Returns the first id
   * already in flight, claiming nothing, or undefined once all are claimed.
   */
  claim(body: unknown): Id | undefined {
    const ids = (Array.isArray(body) ? body : [body]).filter(isRequest).map((m) => m.id);
    const seen = new Set<string>();
    for (const id of ids) {
      const k = RequestIds.key(id);
      if (this.inFlight.has(k) || seen.has(k)) return id;
      seen.add(k);
    }
    for (const k of seen) this.inFlight.add(k);
    return undefined;
  }

  release(id: Id): void {
    this.inFlight.delete(RequestIds.key(id));
  }

  /**
   * Releases an id when its answer goes out, or when the client cancels the request (the SDK
   * sends no answer then). With `claimOnMessage` (stdio, where messages arrive one by one) the
   * ids are also claimed here, and a reused one is answered without reaching the server;
   * over HTTP the caller claims them before the transport sees the POST.
   * Call after the server has connected to the transport.
   */
  watch(transport: Transport, claimOnMessage: boolean): void {
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      const m = message as { id?: Id; method?: string };
      if (m.method === undefined && m.id !== undefined && m.id !== null) this.release(m.id);
      return send(message, options);
    };
    const deliver = transport.onmessage;
    if (!deliver) throw new Error('watch the transport once the server is connected to it');
    transport.onmessage = (message, extra) => {
      const m = message as { method?: string; params?: { requestId?: Id } };
      if (m.method === 'notifications/cancelled' && m.params?.requestId !== undefined)
        this.release(m.params.requestId);
      if (claimOnMessage) {
        const reused = this.claim(message);
        if (reused !== undefined) {
          void send(duplicateIdError(reused)).catch(() => {});
          return;
        }
      }
      deliver(message, extra);
    };
  }
}
