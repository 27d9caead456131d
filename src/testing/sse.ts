// A minimal server-sent events reader for tests (the parsing rules of WHATWG HTML §9.2.6):
// events as {id, event, data}, comments counted, read from a fetch response body.

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  retry: number | undefined;
  private buffer = '';
  private readonly waiters: (() => void)[] = [];
  ended = false;

  constructor(readonly res: Response) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    const reader = this.res.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buffer += value;
        let end;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          this.frame(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      // aborted
    }
    this.ended = true;
    this.wake();
  }

  private frame(text: string): void {
    const ev: SseEvent = { event: 'message', data: '' };
    const data: string[] = [];
    let any = false;
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const [field, ...rest] = line.split(':');
      const value = rest.join(':').replace(/^ /, '');
      if (field === 'retry') {
        this.retry = Number(value);
        continue;
      }
      if (field === 'data') data.push(value);
      else if (field === 'id') ev.id = value;
      else if (field === 'event') ev.event = value;
      else continue;
      any = true;
    }
    if (!any) return;
    ev.data = data.join('\n');
    this.events.push(ev);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `check` holds (re-checked as data arrives); rejects if the stream ends first. */
  async until(check: (r: this) => boolean, what = 'the expected events'): Promise<void> {
    while (!check(this)) {
      if (this.ended) throw new Error(`the stream ended before ${what}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The data of events named `name`, parsed. */
  json<T>(name: string): T[] {
    return this.events.filter((e) => e.event === name).map((e) => JSON.parse(e.data) as T);
  }
}
