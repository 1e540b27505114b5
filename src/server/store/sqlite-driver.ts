import { createRequire } from 'node:module';

/**
 * The subset of better-sqlite3 the SQLite store relies on, declared here rather than imported
 * (the package ships no types, and this keeps the surface we depend on explicit).
 */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/** A prepared statement. Parameters are positional (`?`) or one object for `@name` parameters. */
export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** A function that runs its body inside BEGIN … COMMIT (ROLLBACK on throw). */
export interface SqliteTransaction<A extends unknown[], R> {
  (...args: A): R;
  /** BEGIN IMMEDIATE: takes the write lock up front, so two processes cannot both read then write. */
  immediate(...args: A): R;
}

export interface SqliteDatabase {
  readonly open: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): SqliteDatabase;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R>;
  close(): SqliteDatabase;
}

export interface SqliteOpenOptions {
  readonly?: boolean;
  fileMustExist?: boolean;
  /** Milliseconds to wait for another connection's write lock before SQLITE_BUSY. */
  timeout?: number;
}

export type SqliteDatabaseConstructor = new (filename: string, options?: SqliteOpenOptions) => SqliteDatabase;

let cached: SqliteDatabaseConstructor | undefined;

/** Loads better-sqlite3 on first use, so deployments on PostgreSQL never load the native addon. */
export function loadSqlite(): SqliteDatabaseConstructor {
  cached ??= createRequire(import.meta.url)('better-sqlite3') as SqliteDatabaseConstructor;
  return cached;
}
