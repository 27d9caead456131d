// What an embedded (in-process SQLite) store can tell a cache synchronously and cheaply:
// whether another connection (another process on the data directory) committed since a given
// moment. A cache over such a store reads only when that changed, and applies this process's
// own writes itself, so a decision costs no read; over a network store the caches read the
// changes since their cursor on every use instead.

export interface LocalVersion {
  /** SQLite's data_version: changes when another connection commits. */
  version(): number;
}

/** See OwnInserts in store/sqlite/db.ts. */
export interface LocalInserts extends LocalVersion {
  readonly own: { readonly run: number };
}

export const isLocal = <T extends object>(store: T): store is T & LocalVersion =>
  typeof (store as Partial<LocalVersion>).version === 'function';

/**
 * Runs `read` after the read in flight on `holder` (over a network store): two reads from one
 * cursor at once would apply the same changes twice.
 */
export function inTurn(holder: { reading?: Promise<void> }, read: () => Promise<void>) {
  const next = (holder.reading ?? Promise.resolve()).then(read);
  holder.reading = next.catch(() => {});
  return next;
}
