// A server-sent events subscription that survives a lost connection and says so. EventSource
// reconnects by itself after a network error but gives up for good on an HTTP error (a restarted
// server answering 503, a 502 from a proxy); here every loss is retried with a capped backoff,
// resuming after the last event id the page saw (the browser sends Last-Event-ID on its own
// retries; ours pass it as `after`). Events are not handed over one by one: they are queued and
// delivered in one batch per animation frame, so 1,000 events a second cost the page one render
// per frame, not 1,000.

export type StreamState =
  | { kind: 'connecting' }
  | { kind: 'live'; since: Date }
  | { kind: 'reconnecting'; lostAt: Date; attempt: number; retryIn: number }
  | { kind: 'closed'; reason: string };

export interface StreamOptions<T> {
  url: (after: string | undefined) => string;
  /** The SSE event name the data arrives under. */
  event: string;
  onBatch: (items: T[]) => void;
  onState: (s: StreamState) => void;
  /** Asked after a failed connection (EventSource hides its status): true when signed out. */
  signedOut?: () => Promise<boolean>;
  /** Then the stream stops retrying and hands over to the sign-in page. */
  onUnauthorized?: () => void;
}

const MAX_BACKOFF_MS = 10_000;

export function subscribe<T>(o: StreamOptions<T>): () => void {
  let source: EventSource | undefined;
  let lastId: string | undefined;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let frame: number | undefined;
  let queue: T[] = [];
  let stopped = false;

  const flush = () => {
    frame = undefined;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    o.onBatch(batch);
  };

  const open = () => {
    if (stopped) return;
    o.onState(attempt === 0 ? { kind: 'connecting' } : reconnecting(attempt));
    const es = new EventSource(o.url(lastId), { withCredentials: true });
    source = es;
    es.onopen = () => {
      attempt = 0;
      o.onState({ kind: 'live', since: new Date() });
    };
    es.addEventListener(o.event, (ev) => {
      const m = ev as MessageEvent<string>;
      if (m.lastEventId) lastId = m.lastEventId;
      try {
        queue.push(JSON.parse(m.data) as T);
      } catch {
        return; // a malformed event is skipped, never fatal to the stream
      }
      frame ??= requestAnimationFrame(flush);
    });
    es.onerror = () => {
      es.close();
      if (stopped) return;
      void probe().then((unauthorized) => {
        if (stopped) return;
        if (unauthorized) {
          o.onState({ kind: 'closed', reason: 'signed out' });
          o.onUnauthorized?.();
          return;
        }
        attempt++;
        const s = reconnecting(attempt);
        o.onState(s);
        timer = setTimeout(open, s.retryIn);
      });
    };
  };

  let lostAt: Date | undefined;
  const reconnecting = (n: number): StreamState & { kind: 'reconnecting' } => {
    lostAt = n === 1 || !lostAt ? new Date() : lostAt;
    return {
      kind: 'reconnecting',
      lostAt,
      attempt: n,
      retryIn: Math.min(MAX_BACKOFF_MS, 500 * 2 ** (n - 1)),
    };
  };

  const probe = async () => {
    try {
      return (await o.signedOut?.()) ?? false;
    } catch {
      return false;
    }
  };

  open();
  return () => {
    stopped = true;
    source?.close();
    if (timer) clearTimeout(timer);
    if (frame !== undefined) cancelAnimationFrame(frame);
  };
}
