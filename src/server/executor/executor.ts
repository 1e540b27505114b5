import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import type { SqlStatement, WireResult } from '../../protocol/wire.js';
import { toConnectionError } from './errors.js';
import { PoolManager, type PoolManagerOptions, type PoolMode } from './pool-manager.js';
import { runRaw, type RawQueryOptions } from './raw-query.js';
import { SessionManager, type Session } from './sessions.js';
import type { ExecutionTarget } from './types.js';

/**
 * The execute step of the request pipeline (STYLE: authenticate → … → execute → …): runs
 * already classified, already tokenized SQL for one integration and returns PostgreSQL's raw
 * results. Policy is not decided here; `mode` only picks the pool (`read` = read-only).
 */

/** One call from the route. */
export interface RunRequest {
  target: ExecutionTarget;
  /** `read` runs sessionless work on the read-only pool; sessions always use their own connection. */
  mode: PoolMode;
  /** Parameterized statements; with `batch` all commit together or none does. */
  statements: SqlStatement[];
  batch: boolean;
  /** A multi-statement string sent as-is over the simple protocol (one implicit transaction). */
  simpleMulti?: string;
  /** `'new'` opens a session in this call; a `ses_…` id continues one; absent/null: none. */
  sessionId?: string | null;
  /** Close the session after this call (the driver's release()). */
  closeSession?: boolean;
  /** Rows as encoded JSON text (RawQueryOptions.encodeRows): only when nothing reads them row by row. */
  encodeRows?: boolean;
}

/** What the route puts in the payload. */
export interface RunResponse {
  results: WireResult[];
  /** The session the call ran on and that stays open, else null. */
  sessionId: string | null;
  /** Time on its connection, ms: the statements alone, without the wait for a connection or session. */
  executionMs: number;
}

/** Optional collaborators, injectable for tests and for sharing across routes. */
export interface ExecutorOptions {
  pools?: PoolManager;
  sessions?: SessionManager;
  poolOptions?: PoolManagerOptions;
}

const executionTimes = new WeakMap<object, number>();

function withExecutionTime(err: unknown, ms: number): unknown {
  if (typeof err === 'object' && err !== null) executionTimes.set(err, ms);
  return err;
}

/**
 * How long a failed Executor.run spent on its connection, ms (RunResponse.executionMs of a
 * failure): 0 when it never got one, undefined for an error that did not come from `run`.
 */
export function executionTimeOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? executionTimes.get(err) : undefined;
}

/** True when the client sits inside a transaction block (open or failed). */
function inTransaction(client: PoolClient): boolean {
  const status = client.getTransactionStatus();
  return status === 'T' || status === 'E';
}

/**
 * Runs statements all-or-nothing. Inside a session's open transaction a savepoint takes the
 * place of BEGIN, so the batch never commits (or ends) the caller's transaction.
 */
async function runAtomically(client: PoolClient, statements: SqlStatement[], options: RawQueryOptions): Promise<WireResult[]> {
  const nested = inTransaction(client);
  await client.query(nested ? 'SAVEPOINT qs_batch' : 'BEGIN');
  const results: WireResult[] = [];
  try {
    for (const statement of statements) results.push(...(await runRaw(client, { kind: 'extended', statement }, options)));
    await client.query(nested ? 'RELEASE SAVEPOINT qs_batch' : 'COMMIT');
  } catch (err) {
    try {
      if (nested) {
        await client.query('ROLLBACK TO SAVEPOINT qs_batch');
        await client.query('RELEASE SAVEPOINT qs_batch');
      } else {
        await client.query('ROLLBACK');
      }
    } catch {
      // The connection is unusable; the caller sees the first error, and a connection left
      // in a transaction is destroyed on release, never pooled.
    }
    throw err;
  }
  return results;
}

/** Combines pools and sessions behind one `run`. */
export class Executor {
  readonly pools: PoolManager;
  readonly sessions: SessionManager;

  constructor(options: ExecutorOptions = {}) {
    this.pools = options.pools ?? new PoolManager(options.poolOptions);
    this.sessions = options.sessions ?? new SessionManager(this.pools);
  }

  /**
   * Runs one request. Throws a pg DatabaseError for SQL errors (all fields intact) and a
   * QsError for refusals and connection failures (QS_MAX_ROWS, QS_SESSION_*, QS_DB_*);
   * `toWireError` turns either into the payload's error.
   */
  async run(request: RunRequest): Promise<RunResponse> {
    const { target } = request;
    const options: RawQueryOptions = {
      ...(target.limits.max_rows !== undefined ? { maxRows: target.limits.max_rows } : {}),
      ...(request.encodeRows === true ? { encodeRows: true } : {}),
    };
    let executionMs = 0;
    const work = async (client: PoolClient): Promise<WireResult[]> => {
      const started = performance.now();
      try {
        return await this.#runOn(client, request, options);
      } finally {
        executionMs = performance.now() - started;
      }
    };

    if (request.sessionId == null) {
      const lease = await this.pools.acquire(target, request.mode);
      let broken: Error | boolean | undefined;
      try {
        const results = await work(lease.client);
        return { results, sessionId: null, executionMs };
      } catch (err) {
        const mapped = toConnectionError(err, { credentialId: lease.credentialId, tls: lease.tls });
        if (mapped) broken = mapped;
        throw withExecutionTime(mapped ?? err, executionMs);
      } finally {
        // Never hand the next caller a connection that is still inside a transaction.
        lease.release(broken ?? (inTransaction(lease.client) ? true : undefined));
      }
    }

    const isNew = request.sessionId === 'new';
    const session: Session = isNew ? await this.sessions.open(target, request.mode) : this.sessions.get(request.sessionId, target.integrationId);
    let failed = false;
    try {
      const results = await session.run(work);
      return { results, sessionId: request.closeSession ? null : session.id, executionMs };
    } catch (err) {
      failed = true;
      throw withExecutionTime(toConnectionError(err, { credentialId: session.credentialId, tls: session.tls }) ?? err, executionMs);
    } finally {
      // A session whose first call failed was never announced to the driver (errors do not
      // carry a new id), so it would only sit idle until its timeout: close it now.
      if (request.closeSession || (isNew && failed)) await this.sessions.close(session.id);
    }
  }

  /** Closes every session, then every pool (waiting for in-flight queries). */
  async close(): Promise<void> {
    await this.sessions.closeAll();
    await this.pools.closeAll();
  }

  #runOn(client: PoolClient, request: RunRequest, options: RawQueryOptions): Promise<WireResult[]> {
    if (request.simpleMulti !== undefined) return runRaw(client, { kind: 'simple', sql: request.simpleMulti }, options);
    if (request.batch) return runAtomically(client, request.statements, options);
    // A write whose result is refused for max_rows must not stay committed: outside a
    // transaction, run it in one so the refusal rolls it back.
    if (request.mode === 'write' && options.maxRows !== undefined && !inTransaction(client)) {
      return runAtomically(client, request.statements, options);
    }
    return (async () => {
      const results: WireResult[] = [];
      for (const statement of request.statements) results.push(...(await runRaw(client, { kind: 'extended', statement }, options)));
      return results;
    })();
  }
}
