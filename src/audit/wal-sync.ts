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

import { closeSync, fdatasync, fsync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/** Flushes a file (`data`: its contents only, fdatasync) or a directory entry (fsync). */
export type SyncFile = (fd: number, data: boolean) => Promise<void>;

const syncFile: SyncFile = (fd, data) =>
  new Promise<void>((resolve, reject) =>
    (data ? fdatasync : fsync)(fd, (e) => (e ? reject(e) : resolve())),
  );

class WalSyncError extends Error {}

export class WalSync {
  private fd: number | undefined;
  private running: Promise<void> | undefined;
  /** Callers that committed while an fsync ran: the next fsync is theirs. */
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private broken: WalSyncError | undefined;

  /**
   * `walFile` (an absolute path) is the database's -wal file. SQLite deletes it only when the
   * last connection closes, and the log keeps its own open, so one descriptor serves for good.
   */
  constructor(
    private readonly walFile: string,
    private readonly sync: SyncFile = syncFile,
  ) {}

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
      let fd: number;
      try {
        fd = this.fd ?? openSync(this.walFile, 'r');
      } catch (e) {
        // Not an fsync failure: nothing is known lost. These records are not reported durable;
        // the next request tries again, unless the WAL is gone.
        const gone = (e as NodeJS.ErrnoException).code === 'ENOENT';
        const err = new WalSyncError(`cannot open the audit log's WAL: ${(e as Error).message}`);
        if (gone) this.fail(batch, e as Error);
        else for (const w of batch) w.reject(err);
        continue;
      }
      try {
        if (this.fd === undefined) {
          // The WAL may be new: its directory entry must reach the disk as well.
          const dir = openSync(dirname(this.walFile), 'r');
          try {
            await this.sync(dir, false);
          } finally {
            closeSync(dir);
          }
          this.fd = fd;
        }
        await this.sync(fd, true);
        for (const w of batch) w.resolve();
      } catch (e) {
        if (this.fd === undefined) closeSync(fd);
        this.fail(batch, e as Error);
      }
    }
    this.running = undefined;
  }

  private fail(batch: { reject: (e: Error) => void }[], e: Error): void {
    this.broken ??= new WalSyncError(`fsync of the audit log failed: ${e.message}; restart Cordon`);
    for (const w of [...batch, ...this.waiting.splice(0)]) w.reject(this.broken);
  }

  /** Waits for the fsync in flight, if any, and closes the file. */
  async close(): Promise<void> {
    await this.running;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
