// Server-sent events both ways: read an upstream stream event by event (eventsource-parser),
// and write the events of each upstream chunk to the client as soon as they are decided.
// Nothing is buffered whole.

import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface SseEvent {
  event?: string | undefined;
  data: string;
}

export function formatSse(e: SseEvent): string {
  let out = e.event ? `event: ${e.event}\n` : '';
  for (const line of e.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

export class UpstreamIdle extends Error {}

/**
 * Feeds the events of `body` to `onEvents` as they arrive, in order: all the events of one
 * chunk read from the upstream in one call (so the caller can write them in one syscall), each
 * call awaited (so a held-back tool call is decided before anything after it is written).
 * Throws UpstreamIdle when no bytes arrive for `idleMs`, or the read error when the upstream
 * drops the stream.
 */
export async function pumpSse(
  body: AsyncIterable<Uint8Array>,
  onEvents: (events: SseEvent[]) => Promise<void>,
  idleMs: number,
): Promise<void> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => queue.push(e) });
  const chunks = body[Symbol.asyncIterator]();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UpstreamIdle(`no data for ${idleMs} ms`)), idleMs);
      });
      let r: IteratorResult<Uint8Array>;
      try {
        r = await Promise.race([chunks.next(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) break;
      parser.feed(decoder.decode(r.value, { stream: true }));
      if (queue.length > 0)
        await onEvents(queue.splice(0).map((e) => ({ event: e.event, data: e.data })));
    }
  } finally {
    // Not awaited: a stalled upstream never settles the read in flight; the caller destroys
    // the body.
    void chunks.return?.()?.catch(() => undefined);
  }
}
