// The embedded isolation store and change bus now live in the store port's embedded backend
// (store/sqlite/); re-exported here for the isolation tests that open them directly.

export { SqliteIsolationStore } from '../store/sqlite/isolation.js';
export { LocalChangeBus } from '../store/sqlite/bus.js';
