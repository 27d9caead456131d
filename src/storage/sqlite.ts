// One way to open the embedded stores in the data directory: WAL, a busy timeout so a second
// reader (the CLI beside a server) waits instead of failing, and the schema applied. The data
// directory is created (0700) when it does not exist yet.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ensureDataDir } from './data-dir.js';

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
