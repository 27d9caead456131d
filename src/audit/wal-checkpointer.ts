// Runs SQLite WAL checkpoints for the audit database on a worker thread, on its own connection.
// Left to SQLite, a checkpoint runs inside whichever commit crosses the threshold, copying pages
// and syncing the database file on the event loop: a latency spike of tens of milliseconds for
// the decisions in that batch.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

export function startWalCheckpointer(
  file: string,
  onError: (e: Error) => void,
  intervalMs = 1000,
): { stop(): Promise<void> } {
  const worker = new Worker(new URL(import.meta.url), { workerData: { file, intervalMs } });
  worker.unref();
  // A checkpointer that dies loses nothing (the WAL keeps the pages) and must not crash the
  // server, but the WAL then grows without bound: say so.
  worker.on('error', (e) =>
    onError(new Error(`the audit WAL checkpointer stopped (the WAL will grow): ${e.message}`)),
  );
  return {
    async stop() {
      worker.ref(); // keep the process alive until the last checkpoint is written
      worker.postMessage('stop');
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
      });
    },
  };
}

if (!isMainThread && workerData && (workerData as { file?: string }).file) {
  const { file, intervalMs } = workerData as { file: string; intervalMs: number };
  const db = new Database(file);
  // Passive checkpoints never block the writer, but under sustained writes the WAL is never
  // reset and keeps growing; past this size, a truncating checkpoint (which waits for the
  // writer's current commit) bounds it.
  const maxWalBytes = 64 * 1024 * 1024;
  const walSize = () => {
    try {
      return statSync(`${file}-wal`).size;
    } catch {
      return 0;
    }
  };
  const timer = setInterval(() => {
    try {
      db.pragma(walSize() > maxWalBytes ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)');
    } catch {
      /* busy or closing: the next round will do it */
    }
  }, intervalMs);
  parentPort?.on('message', (m) => {
    if (m === 'stop') {
      clearInterval(timer);
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        /* the WAL keeps what was not copied; the next start checkpoints it */
      } finally {
        db.close();
        parentPort?.close();
      }
    }
  });
}
