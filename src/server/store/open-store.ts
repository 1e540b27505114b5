import { QsError } from '../../protocol/errors.js';
import type { Store } from './store.js';

/** Options for openStore that only apply to the PostgreSQL store. */
export interface OpenStoreOptions {
  /** PostgreSQL schema (default `quantaseal`). */
  schema?: string;
  /** Start the LISTEN connection behind onChange (default true). */
  listen?: boolean;
  /** Pool size (default 10). */
  max?: number;
}

/**
 * Opens a store from its spec and applies pending migrations:
 * `sqlite:PATH` (PATH may be `:memory:`) or a `postgres://` / `postgresql://` URL.
 * Each implementation is imported on demand, so one never loads the other's driver.
 */
export async function openStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new QsError('QS_CONFIG', 'the store spec sqlite: needs a path (sqlite:PATH)');
    const { SqliteStore } = await import('./sqlite-store.js');
    return SqliteStore.open(path);
  }
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const { PostgresStore } = await import('./postgres-store.js');
    return PostgresStore.open({ url: spec, ...opts });
  }
  // The spec is not echoed: a mistyped DSN may still carry a password.
  throw new QsError('QS_CONFIG', 'the store must be sqlite:PATH or a postgres:// / postgresql:// URL');
}
