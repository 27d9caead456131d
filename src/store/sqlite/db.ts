// One way to open the embedded stores in the data directory: WAL, a busy timeout so a second
// reader (the CLI beside a server) waits instead of failing, and the schema applied. The data
// directory is created (0700) when it does not exist yet.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ensureDataDir } from '../data-dir.js';

export function openStore(
  dataDir: string,
  file: string,
  o: {
    /** FULL: a commit survives power loss; NORMAL: it survives a process crash. */
    synchronous: 'FULL' | 'NORMAL';
    schema: string;
  },
): Database.Database {
  ensureDataDir(dataDir);
  const db = new Database(join(dataDir, file));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${o.synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.exec(o.schema);
  return db;
}

/**
 * Changes whenever another connection (another process: the CLI beside a server) commits to the
 * database; this connection's own commits leave it alone. Read at most once per turn of the
 * event loop (the read costs about a third of a query): a request that arrives after another
 * process committed is handled in a later turn, so its decision still sees the commit.
 */
export function dataVersion(db: Database.Database): () => number {
  const stmt = db.prepare('PRAGMA data_version').pluck();
  let memo: number | undefined;
  const forget = () => {
    memo = undefined;
  };
  return () => {
    if (memo === undefined) {
      memo = stmt.get() as number;
      setImmediate(forget);
    }
    return memo;
  };
}

/**
 * This connection's inserts into a table whose rowids only grow (each new row gets the highest
 * rowid + 1): while they follow each other without a gap, no other connection inserted in
 * between. `run` counts the gaps, so a cache can add its own rows without reading them back
 * exactly when nobody else wrote since it last read.
 */
export class OwnInserts {
  private last = -1;
  run = 0;

  note(first: number, last: number): void {
    if (first !== this.last + 1) this.run++;
    this.last = last;
  }
}
