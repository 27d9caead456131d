// A server-sent events subscription that survives a lost connection and says so. The stream is
// read with fetch() and parsed here (the text/event-stream format of the HTML standard) rather
// than with EventSource, for three reasons: EventSource hides the HTTP status of a failed
// connection (a 401 that means "signed out" looks like a network error), gives up for good on
// any HTTP error (a restarted server's 503), and dispatches one task per event, which at 1,000
// decisions a second was most of the page's main-thread time; here one network chunk, holding
// many events, is one task. Every loss is retried with a capped backoff, resuming after the last
// event id seen (`Last-Event-ID`). Events are queued and handed over in one batch at most every
// 100 ms (on an animation frame), so 1,000 events a second cost the page ten renders, not 1,000
// (docs/perf.md, "Web console").

export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'live'; since: Date }
  | { kind: 'reconnecting'; lostAt: Date; attempt: number; retryIn: number; why: string }
  | { kind: 'closed'; reason: string };

export interface StreamOptions<T> {
  url: string;
  /** The SSE event name the data arrives under. */
  event: string;
  onBatch: (items: T[]) => void;
  onState: (s: StreamState) => void;
  /** A 401: the session is gone. The stream stops and hands over (to the sign-in page). */
  onUnauthorized?: () => void;
}

const MAX_BACKOFF_MS = 10_000;
/** The longest an event waits before it is shown; also the shortest time between two batches. */
const BATCH_MS = 100;

/** Parses text/event-stream text as it arrives: complete events go to `emit`. */
export class EventStreamParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  lastId: string | undefined;
  /** The server's `retry:` in ms, if it sent one. */
  retry: number | undefined;

  constructor(private readonly emit: (event: string, data: string, id?: string) => void) {}

  push(text: string): void {
    this.buffer += text;
    const eol = /\r\n|\r|\n/gu;
    let at = 0;
    for (let m = eol.exec(this.buffer); m; m = eol.exec(this.buffer)) {
      // A \r that ends the text may be the first half of a \r\n: wait for the next chunk.
      if (m[0] === '\r' && m.index + 1 === this.buffer.length) break;
      this.line(this.buffer.slice(at, m.index));
      at = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(at);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.id !== undefined) this.lastId = this.id;
      if (this.data.length > 0)
        this.emit(this.event || 'message', this.data.join('\n'), this.lastId);
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return; // a comment: the keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    else if (field === 'retry' && /^\d+$/u.test(value)) this.retry = Number(value);
  }
}

export function subscribe<T>(o: StreamOptions<T>): () => void {
  let lastId: string | undefined;
  let attempt = 0;
  let lostAt: Date | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let batchTimer: ReturnType<typeof setTimeout> | undefined;
  let frame: number | undefined;
  let queue: T[] = [];
  let abort: AbortController | undefined;
  let stopped = false;

  const flush = () => {
    frame = undefined;
    batchTimer = undefined;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    o.onBatch(batch);
  };

  const retryLater = (why: string) => {
    if (stopped) return;
    attempt++;
    if (attempt === 1 || !lostAt) lostAt = new Date();
    const retryIn = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (attempt - 1));
    o.onState({ kind: 'reconnecting', lostAt, attempt, retryIn, why });
    retryTimer = setTimeout(() => void open(), retryIn);
  };

  const open = async () => {
    if (stopped) return;
    if (attempt === 0) o.onState({ kind: 'connecting' });
    abort = new AbortController();
    let res: Response;
    try {
      res = await fetch(o.url, {
        credentials: 'same-origin',
        headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        signal: abort.signal,
        cache: 'no-store',
      });
    } catch {
      return retryLater('the server cannot be reached');
    }
    if (res.status === 401) {
      o.onState({ kind: 'closed', reason: 'signed out' });
      o.onUnauthorized?.();
      return;
    }
    if (res.status === 403 || res.status === 400) {
      // Refused by policy, or a bad filter: retrying would not change the answer.
      let reason = `the server answered ${res.status}`;
      try {
        reason = ((await res.json()) as { error?: string }).error ?? reason;
      } catch {
        /* not JSON */
      }
      o.onState({ kind: 'closed', reason });
      return;
    }
    if (!res.ok || !res.body) return retryLater(`the server answered ${res.status}`);
    attempt = 0;
    lostAt = undefined;
    o.onState({ kind: 'live', since: new Date() });
    const parser = new EventStreamParser((event, data, id) => {
      if (id !== undefined) lastId = id;
      if (event !== o.event) return;
      try {
        queue.push(JSON.parse(data) as T);
      } catch {
        return; // a malformed event is skipped, never fatal to the stream
      }
      batchTimer ??= setTimeout(() => (frame = requestAnimationFrame(flush)), BATCH_MS);
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch {
      /* the connection broke: retried below */
    }
    if (!stopped) retryLater('the connection was lost');
  };

  void open();
  return () => {
    stopped = true;
    abort?.abort();
    if (retryTimer) clearTimeout(retryTimer);
    if (batchTimer) clearTimeout(batchTimer);
    if (frame !== undefined) cancelAnimationFrame(frame);
  };
}
