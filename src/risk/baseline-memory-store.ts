// A BaselineStore in memory (the store port, src/store/ports.ts): for a PDP without a data
// directory, and for tests where several services (nodes) share one store. Nothing survives the
// process; `cordon serve` uses the store of its configured backend.

import type { BaselineStore, StoredBaseline } from '../store/ports.js';

export class MemoryBaselineStore implements BaselineStore {
  private readonly rows = new Map<string, StoredBaseline>();

  get(subject: string): Promise<StoredBaseline | undefined> {
    const row = this.rows.get(subject);
    return Promise.resolve(row ? { ...row } : undefined);
  }

  put(subject: string, data: string, expected: number): Promise<boolean> {
    const version = this.rows.get(subject)?.version ?? 0;
    if (version !== expected) return Promise.resolve(false);
    this.rows.set(subject, { version: version + 1, data });
    return Promise.resolve(true);
  }

  delete(subject: string): Promise<boolean> {
    return Promise.resolve(this.rows.delete(subject));
  }

  subjects(): Promise<string[]> {
    return Promise.resolve([...this.rows.keys()]);
  }
}
