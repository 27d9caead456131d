// One way to open the embedded stores in the data directory: WAL, a busy timeout so a second
// reader (the CLI beside a server) waits instead of failing, and the schema applied.

import Database from 'better-sqlite3';
import { join } from 'node:path';

export function openStore(
  dataDir: string,
  file: string,
  o: {
    /** FULL: a commit survives power loss; NORMAL: it survives a process crash. */
    synchronous: 'FULL' | 'NORMAL';
    schema: string;
  },
): Database.Database {
  const db = new Database(join(dataDir, file));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${o.synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.exec(o.schema);
  return db;
}
