// Server-sent events both ways: read an upstream stream event by event (eventsource-parser),
// and write the events of each upstream chunk to the client as soon as they are decided.
// Nothing is buffered whole.

import type { Readable } from 'node:stream';
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
 * Throws UpstreamIdle when no bytes arrive for `idleMs` (the body is destroyed with it), or the
 * read error when the upstream drops the stream.
 */
export async function pumpSse(
  body: Readable,
  onEvents: (events: SseEvent[]) => Promise<void>,
  idleMs: number,
): Promise<void> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => queue.push(e) });
  const decoder = new TextDecoder();
  // One timer for the whole stream, pushed back by every chunk: a stalled upstream ends the
  // read in flight with UpstreamIdle. While onEvents runs (deciding tool calls), nobody reads,
  // and that time is not the upstream's.
  let deciding = false;
  const idle = setTimeout(() => {
    if (deciding) idle.refresh();
    else body.destroy(new UpstreamIdle(`no data for ${idleMs} ms`));
  }, idleMs);
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (queue.length > 0) {
        deciding = true;
        try {
          await onEvents(queue.splice(0).map((e) => ({ event: e.event, data: e.data })));
        } finally {
          deciding = false;
        }
      }
      idle.refresh();
    }
  } finally {
    clearTimeout(idle);
  }
}
