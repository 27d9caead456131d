// Session summaries kept per process: the decision reads a summary, not the history. Each use
// catches up with the events appended since the summary's cursor, by this process or any other
// (another node, the CLI), so the next decision sees them. Over the embedded store the catch-up
// is skipped while no other process wrote, and this process's appends are added directly.

import { SessionSummary, type SessionEvent, type SessionStore } from '../../core/stages/session.js';
import type { SessionEventStore } from '../ports.js';
import { inTurn, isLocal, type LocalInserts } from './local.js';

/** Events read when a summary is built (after a restart, or once evicted). */
const REBUILD_FROM = 1000;
/** Summaries kept in memory; the least recently used is dropped (and rebuilt if needed). */
const CACHED = 10_000;

/** The embedded store's synchronous side (store/sqlite/sessions.ts). */
interface LocalEvents extends LocalInserts {
  appendNow(key: string, event: SessionEvent): number;
  eventsNow(
    key: string,
    opts: { after: number; limit: number },
  ): { events: SessionEvent[]; cursor: number };
}

interface Entry {
  summary: SessionSummary;
  cursor: number;
  /** The store's version when the summary last caught up (embedded store only). */
  version: number;
  /** The store's run of gapless own inserts at the last catch-up (see OwnInserts). */
  run: number;
  /** Must read before the next use: an own write may have followed another process's. */
  stale: boolean;
  /** A catch-up in flight over a network store: the next one waits, so none reads twice. */
  reading?: Promise<void>;
}

export class SessionCache implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private readonly local: LocalEvents | undefined;

  constructor(
    private readonly store: SessionEventStore,
    private readonly windowMs: number,
  ) {
    this.local =
      isLocal(store) && 'appendNow' in store ? (store as unknown as LocalEvents) : undefined;
  }

  async summary(key: string): Promise<SessionSummary> {
    let e = this.entries.get(key);
    if (e) this.entries.delete(key); // refresh its place in the LRU order
    if (!e) {
      e = {
        summary: new SessionSummary(this.windowMs),
        cursor: 0,
        version: -1,
        run: -1,
        stale: true,
      };
      await this.catchUp(e, key);
    } else if (!this.local || e.stale || this.local.version() !== e.version)
      await this.catchUp(e, key);
    this.entries.set(key, e);
    if (this.entries.size > CACHED) this.entries.delete(this.entries.keys().next().value!);
    return e.summary;
  }

  private catchUp(e: Entry, key: string): Promise<void> {
    if (this.local) return this.read(e, key);
    return inTurn(e, () => this.read(e, key));
  }

  private async read(e: Entry, key: string): Promise<void> {
    const opts = { after: e.cursor, limit: REBUILD_FROM };
    let r;
    if (this.local) {
      // The version before the read: a commit during or after it is caught next time.
      e.version = this.local.version();
      e.run = this.local.own.run;
      e.stale = false;
      r = this.local.eventsNow(key, opts);
    } else r = await this.store.events(key, opts);
    for (const ev of r.events) e.summary.add(ev);
    e.cursor = r.cursor;
  }

  async append(key: string, event: SessionEvent): Promise<void> {
    if (!this.local) {
      await this.store.append(key, event);
      return;
    }
    const seq = this.local.appendNow(key, event);
    const e = this.entries.get(key);
    if (!e) return;
    // Nobody else wrote since the summary caught up: this event is the only one it lacks.
    if (!e.stale && e.run === this.local.own.run) {
      e.summary.add(event);
      e.cursor = seq;
    } else e.stale = true;
  }
}
