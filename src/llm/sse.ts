// Server-sent events both ways: read an upstream stream event by event (eventsource-parser),
// and write events to the client as soon as each is decided. Nothing is buffered whole.

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
 * Feeds each event of `body` to `onEvent`, in order, awaiting each (so a held-back tool call
 * is decided before anything after it is written). Throws UpstreamIdle when no bytes arrive
 * for `idleMs`, or the read error when the upstream drops the stream.
 */
export async function pumpSse(
  body: ReadableStream<Uint8Array>,
  onEvent: (e: SseEvent) => Promise<void>,
  idleMs: number,
): Promise<void> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => queue.push(e) });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UpstreamIdle(`no data for ${idleMs} ms`)), idleMs);
      });
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) break;
      parser.feed(decoder.decode(r.value, { stream: true }));
      while (queue.length > 0) {
        const e = queue.shift()!;
        await onEvent({ event: e.event, data: e.data });
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}
