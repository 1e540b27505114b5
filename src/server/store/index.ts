export type * from './store.js';
export { openStore, type OpenStoreOptions } from './open-store.js';
export { SqliteStore } from './sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
