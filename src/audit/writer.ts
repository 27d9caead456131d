// Commits audit batches on a worker thread, on its own SQLite connection, in two stages:
//
// - written: the batch is committed to the WAL (SQLite synchronous=NORMAL): it survives a crash
//   of the process, and later commits cannot survive without it (the WAL only recovers a prefix);
// - durable: with sync "full", an fdatasync of the WAL on libuv's thread pool, shared by every
//   batch written while the previous one ran (group fsync): it survives power loss too.
//
// A PEP can start the action once the record is written and hand the result to the agent once
// it is durable, so the fsync (about 0.4 ms here) overlaps the action instead of preceding it.
// After an fsync fails, nothing is reported durable again (the kernel may have dropped the
// pages): every later write is refused and the process must restart.

import { fdatasync, openSync, closeSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { PolicySources } from '../core/compile.js';
import { SqliteAuditStore, type StoredCheckpoint, type StoredRecord } from './sqlite-store.js';

export interface PolicySetRow {
  version: string;
  sources: PolicySources;
}

type Work =
  | { op: 'append'; records: StoredRecord[]; policySets: PolicySetRow[] }
  | { op: 'checkpoint'; checkpoint: StoredCheckpoint }
  | { op: 'close' };
type Job = Work & { id: number };

type Reply =
  | { id: number; stage: 'written' }
  | { id: number; stage: 'durable' }
  | { id: number; stage: 'failed'; error: string };

interface Waiter {
  written: Deferred;
  durable: Deferred;
}
interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // the caller may only await one stage; never an unhandled rejection
  return { promise, resolve, reject };
}

/** A write's two stages; `durable` rejects whenever `written` does. */
export interface Staged {
  written: Promise<void>;
  durable: Promise<void>;
}

interface WriterData {
  auditWriter: { file: string; sync: 'full' | 'normal' };
}

export class AuditWriterError extends Error {}

export class AuditWriter {
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();
  private dead: Error | undefined;
  private closing = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      if (m.stage === 'written') {
        w.written.resolve();
        return;
      }
      this.waiting.delete(m.id);
      if (m.stage === 'durable') {
        w.written.resolve();
        w.durable.resolve();
      } else {
        const err = new AuditWriterError(m.error);
        w.written.reject(err);
        w.durable.reject(err);
      }
      if (this.waiting.size === 0 && !this.closing) worker.unref();
    });
    const fail = (e: Error) => {
      this.dead ??= new AuditWriterError(`the audit writer stopped: ${e.message}`);
      for (const w of this.waiting.values()) {
        w.written.reject(this.dead);
        w.durable.reject(this.dead);
      }
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  /** Starts the worker and waits until its connection is open. */
  static async start(file: string, sync: 'full' | 'normal'): Promise<AuditWriter> {
    const data: WriterData = { auditWriter: { file, sync } };
    const worker = new Worker(new URL(import.meta.url), { workerData: data });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m: Reply) =>
        m.stage === 'failed' ? reject(new AuditWriterError(m.error)) : resolve(),
      );
      worker.once('error', reject);
    });
    worker.unref();
    return new AuditWriter(worker);
  }

  private send(job: Work): Staged {
    const w = { written: deferred(), durable: deferred() };
    if (this.dead) {
      w.written.reject(this.dead);
      w.durable.reject(this.dead);
    } else {
      const id = this.nextId++;
      this.waiting.set(id, w);
      // Referenced while work is outstanding, so the process does not exit with records unwritten.
      this.worker.ref();
      this.worker.postMessage({ ...job, id });
    }
    return { written: w.written.promise, durable: w.durable.promise };
  }

  /** One transaction: every record and new policy set of the batch, or none. */
  append(records: StoredRecord[], policySets: PolicySetRow[]): Staged {
    return this.send({ op: 'append', records, policySets });
  }

  /** Resolves once written: a checkpoint is only worth what the records before it are. */
  addCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.send({ op: 'checkpoint', checkpoint }).written;
  }

  /** Waits for what was sent before to be durable, closes the connection, ends the worker. */
  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true; // stay referenced until the worker has exited
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    await this.send({ op: 'close' }).durable;
    await exited;
  }
}

function serve(data: WriterData['auditWriter']): void {
  const port = parentPort!;
  const post = (r: Reply) => port.postMessage(r);
  let store: SqliteAuditStore;
  try {
    // NORMAL: the commit writes the WAL without waiting for the disk; the fsync is ours.
    store = new SqliteAuditStore(data.file, { sync: 'normal' });
  } catch (e) {
    post({ id: -1, stage: 'failed', error: (e as Error).message });
    return;
  }
  post({ id: -1, stage: 'written' });

  let walFd: number | undefined;
  let syncing = false;
  let unsynced: number[] = []; // written, waiting for the next fsync
  let broken: string | undefined; // an fsync failed: nothing is durable any more
  let closeId: number | undefined;

  const finishClose = () => {
    if (closeId === undefined || syncing || unsynced.length > 0) return;
    if (walFd !== undefined) closeSync(walFd);
    store.close();
    post({ id: closeId, stage: 'durable' });
    port.close();
  };

  const syncNext = () => {
    if (syncing || unsynced.length === 0) return finishClose();
    const ids = unsynced;
    unsynced = [];
    syncing = true;
    try {
      walFd ??= openSync(`${data.file}-wal`, 'r');
    } catch (e) {
      return synced(ids, e as Error);
    }
    fdatasync(walFd, (e) => synced(ids, e));
  };

  const synced = (ids: number[], e: Error | null) => {
    syncing = false;
    if (e) broken ??= `fsync of the audit log failed: ${e.message}; restart Cordon`;
    for (const id of ids)
      post(broken ? { id, stage: 'failed', error: broken } : { id, stage: 'durable' });
    syncNext();
  };

  port.on('message', (job: Job) => {
    if (job.op === 'close') {
      closeId = job.id;
      return finishClose();
    }
    if (broken) return post({ id: job.id, stage: 'failed', error: broken });
    try {
      if (job.op === 'append') {
        // Structured clone turns Buffers into plain Uint8Arrays.
        for (const r of job.records) r.leafHash = Buffer.from(r.leafHash);
        store.appendBatch(job.records, job.policySets);
      } else {
        store.addCheckpoint(job.checkpoint);
      }
    } catch (e) {
      return post({ id: job.id, stage: 'failed', error: (e as Error).message });
    }
    if (data.sync === 'normal') return post({ id: job.id, stage: 'durable' });
    post({ id: job.id, stage: 'written' });
    unsynced.push(job.id);
    syncNext();
  });
}

if (!isMainThread && (workerData as Partial<WriterData> | undefined)?.auditWriter) {
  serve((workerData as WriterData).auditWriter);
}
