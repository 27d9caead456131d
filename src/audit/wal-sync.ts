// Durability of the audit log, apart from its commits. Commits run with SQLite's
// synchronous=NORMAL: a commit writes the WAL (about 50 µs here) and survives a crash of the
// process; later commits cannot survive without it (the WAL only recovers a prefix). For
// `sync: full`, an fdatasync of the WAL on libuv's thread pool then makes every commit before it
// survive power loss too, and one fsync serves every commit made while the previous one ran.
//
// A PEP can start the action once the record is committed and hand the result to the agent once
// it is durable, so the fsync overlaps the action instead of preceding it. After an fsync fails
// nothing is durable again (the kernel may have dropped the pages): every later request fails
// and the process must restart.

import { closeSync, fdatasync, openSync } from 'node:fs';

export class WalSyncError extends Error {}

export class WalSync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  /** Callers that committed while an fsync ran: the next fsync is theirs. */
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private broken: WalSyncError | undefined;

  /** `walFile` is the database's -wal file; it lives as long as a connection is open. */
  constructor(private readonly walFile: string) {}

  /** Resolves once everything committed before the call is on disk. */
  request(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const p = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (!this.running) this.running = this.run();
    return p;
  }

  /** Refuses commits after a failed fsync: they could never be reported durable. */
  check(): void {
    if (this.broken) throw this.broken;
  }

  private async run(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      try {
        this.fd ??= openSync(this.walFile, 'r');
        const fd = this.fd;
        await new Promise<void>((resolve, reject) =>
          fdatasync(fd, (e) => (e ? reject(e) : resolve())),
        );
        for (const w of batch) w.resolve();
      } catch (e) {
        this.broken ??= new WalSyncError(
          `fsync of the audit log failed: ${(e as Error).message}; restart Cordon`,
        );
        for (const w of [...batch, ...this.waiting.splice(0)]) w.reject(this.broken);
      }
    }
    this.running = undefined;
  }

  /** Waits for the fsync in flight, if any, and closes the file. */
  async close(): Promise<void> {
    await this.running;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
