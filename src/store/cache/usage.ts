// Model usage windows kept per process: the sum over the budget window per key, kept as entries
// come and go, so a decision does not scan the window. Each use catches up with the entries
// recorded since the window's cursor (by any process or node); over the embedded store only when
// another process wrote, and this process's records are added directly.

import type { UsageTotalsSource } from '../../core/stages/usage.js';
import type { UsageTotals } from '../../core/types.js';
import type { UsageEntry, UsageStore } from '../ports.js';
import { inTurn, isLocal, type LocalInserts } from './local.js';

/** One key's entries in the window, with the token sum kept as entries enter and leave. */
class Window {
  private start = 0;
  tokens = 0;
  private readonly entries: UsageEntry[] = [];

  get requests(): number {
    return this.entries.length - this.start;
  }

  add(e: UsageEntry): void {
    this.entries.push(e);
    this.tokens += e.tokens;
  }

  /** Drops what is at or before `from`; compacts the array once half of it is dropped. */
  prune(from: number): void {
    while (this.start < this.entries.length && this.entries[this.start]!.time <= from)
      this.tokens -= this.entries[this.start++]!.tokens;
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries.splice(0, this.start);
      this.start = 0;
    }
  }
}

/** The embedded store's synchronous side (store/sqlite/usage.ts). */
interface LocalUsage extends LocalInserts {
  recordNow(keys: string[], tokens: number, at: Date): number[];
  entriesNow(
    key: string,
    opts: { after: number; since: Date },
  ): { entries: UsageEntry[]; cursor: number };
}

interface Entry {
  window: Window;
  cursor: number;
  version: number;
  /** The store's run of gapless own inserts at the last catch-up (see OwnInserts). */
  run: number;
  /** Must read before the next use: an own write may have followed another process's. */
  stale: boolean;
  /** A catch-up in flight over a network store: the next one waits, so none reads twice. */
  reading?: Promise<void>;
}

export class UsageWindows implements UsageTotalsSource {
  private readonly windows = new Map<string, Entry>();
  private readonly local: LocalUsage | undefined;

  constructor(
    private readonly store: UsageStore,
    private readonly windowMs: number,
  ) {
    this.local =
      isLocal(store) && 'recordNow' in store ? (store as unknown as LocalUsage) : undefined;
  }

  /** Per decision: no scan of the window, the sum is kept as entries come and go. */
  async totals(key: string, now: Date): Promise<UsageTotals> {
    const t = now.getTime();
    let e = this.windows.get(key);
    if (!e) {
      e = { window: new Window(), cursor: 0, version: -1, run: -1, stale: true };
      this.windows.set(key, e);
    }
    if (!this.local || e.stale || this.local.version() !== e.version) await this.catchUp(e, key, t);
    e.window.prune(t - this.windowMs);
    return { requests: e.window.requests, tokens: e.window.tokens };
  }

  private catchUp(e: Entry, key: string, now: number): Promise<void> {
    if (this.local) return this.read(e, key, now);
    return inTurn(e, () => this.read(e, key, now));
  }

  private async read(e: Entry, key: string, now: number): Promise<void> {
    const opts = { after: e.cursor, since: new Date(now - this.windowMs) };
    let r;
    if (this.local) {
      e.version = this.local.version();
      e.run = this.local.own.run;
      e.stale = false;
      r = this.local.entriesNow(key, opts);
    } else r = await this.store.entries(key, opts);
    for (const x of r.entries) e.window.add(x);
    e.cursor = r.cursor;
  }

  /** One completed model request and the tokens the provider reported, for each key. */
  async record(keys: string[], tokens: number, at: Date): Promise<void> {
    if (!this.local) {
      await this.store.record(keys, tokens, at);
      return;
    }
    const seqs = this.local.recordNow(keys, tokens, at);
    const run = this.local.own.run;
    keys.forEach((k, i) => {
      const e = this.windows.get(k);
      if (!e) return;
      // Nobody else wrote since the window caught up: this entry is the only one it lacks.
      if (!e.stale && e.run === run) {
        e.window.add({ time: at.getTime(), tokens });
        e.cursor = seqs[i]!;
      } else e.stale = true;
    });
  }

  /** Drops entries no window can see any more. */
  async compact(now: Date): Promise<void> {
    await this.store.compact(new Date(now.getTime() - this.windowMs));
  }
}
