import type { PoolClient } from 'pg';
import { QsError } from '../../protocol/errors.js';
import { newId } from '../../protocol/ids.js';
import { toConnectionError } from './errors.js';
import type { Lease, PoolManager, PoolMode } from './pool-manager.js';
import type { ExecutionTarget } from './types.js';

/**
 * Sessions (DESIGN §1): a `ses_…` id pinned to one server-side connection from the write pool,
 * so BEGIN/COMMIT, SET search_path, advisory locks and temp tables behave as on one pg
 * connection. Statements on a session run one at a time in arrival order. A session idle past
 * its timeout is rolled back and its connection returned; each integration has a cap.
 *
 * When a session ends its connection goes back to the pool for sessionless queries, so it is
 * cleaned the way PgBouncer's server_reset_query does: ROLLBACK (if a transaction is open),
 * then DISCARD ALL (settings, temp tables, advisory locks, prepared statements, LISTENs).
 * Settings given at connection startup (statement_timeout, read-only) are the reset values and
 * survive. If cleaning fails the connection is destroyed instead of reused.
 */

export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SESSIONS = 10;

/** One open session; use it through `run`. */
export class Session {
  readonly id: string;
  readonly integrationId: string;
  readonly idleTimeoutMs: number;
  /** Set once the session is closing or gone; `run` then refuses. */
  closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #lease: Lease;
  readonly #onIdle: (session: Session) => void;

  /** @internal Created by SessionManager.open. */
  constructor(id: string, integrationId: string, lease: Lease, idleTimeoutMs: number, onIdle: (session: Session) => void) {
    this.id = id;
    this.integrationId = integrationId;
    this.#lease = lease;
    this.idleTimeoutMs = idleTimeoutMs;
    this.#onIdle = onIdle;
    this.#armTimer();
  }

  /** The credential the session's connection logged in with (for error messages). */
  get credentialId(): string {
    return this.#lease.credentialId;
  }

  /** True when the session's connection asked for TLS. */
  get tls(): boolean {
    return this.#lease.tls;
  }

  /** True inside a transaction block, including a failed one waiting for ROLLBACK. */
  get inTransaction(): boolean {
    const status = this.#lease.client.getTransactionStatus();
    return status === 'T' || status === 'E';
  }

  /**
   * Runs `fn` on the session's connection after every earlier call has finished. The idle
   * clock stops while anything is queued or running.
   */
  run<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(sessionNotFound());
    this.#pending++;
    clearTimeout(this.#timer);
    const result = this.#tail.then(() => {
      if (this.closed) throw sessionNotFound();
      return fn(this.#lease.client);
    });
    this.#tail = result.then(
      () => this.#settled(),
      (err: unknown) => {
        // A broken connection cannot carry the session further.
        if (toConnectionError(err) !== null) this.#onIdle(this);
        this.#settled();
      },
    );
    return result;
  }

  /** @internal Marks the session closed and, after queued work, cleans and returns the connection. */
  dispose(): Promise<void> {
    this.closed = true;
    clearTimeout(this.#timer);
    const done = this.#tail.then(async () => {
      const client = this.#lease.client;
      try {
        // getTransactionStatus is null before the first ReadyForQuery; ROLLBACK outside a
        // transaction is only a warning, so when unsure, send it.
        if (client.getTransactionStatus() !== 'I') await client.query('ROLLBACK');
        await client.query('DISCARD ALL');
        this.#lease.release();
      } catch (err) {
        this.#lease.release(err instanceof Error ? err : true);
      }
    });
    this.#tail = done;
    return done;
  }

  #settled(): void {
    this.#pending--;
    if (this.#pending === 0 && !this.closed) this.#armTimer();
  }

  #armTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onIdle(this), this.idleTimeoutMs);
    // An idle session must not keep the process alive on shutdown.
    this.#timer.unref();
  }
}

function sessionNotFound(): QsError {
  return new QsError('QS_SESSION_NOT_FOUND', 'the session does not exist, expired or belongs to another integration');
}

/** Session counts for /metrics. */
export interface SessionStats {
  open: number;
  inTransaction: number;
  byIntegration: Record<string, number>;
}

/** Opens, finds, expires and closes sessions over a PoolManager's write pools. */
export class SessionManager {
  readonly #pools: PoolManager;
  readonly #sessions = new Map<string, Session>();
  /** Sessions per integration, including ones still connecting (so the cap holds under races). */
  readonly #counts = new Map<string, number>();
  readonly #closing = new Set<Promise<void>>();

  constructor(pools: PoolManager) {
    this.#pools = pools;
  }

  /**
   * Opens a session on a dedicated connection from `target`'s write pool, or its read-only pool
   * for an integration that may not write (so a SELECT calling a writing function still cannot).
   * Throws QS_SESSION_LIMIT past `limits.max_sessions` (default 10) open sessions for the integration.
   */
  async open(target: ExecutionTarget, mode: PoolMode = 'write'): Promise<Session> {
    const max = target.limits.max_sessions ?? DEFAULT_MAX_SESSIONS;
    const count = this.#counts.get(target.integrationId) ?? 0;
    if (count >= max) {
      throw new QsError('QS_SESSION_LIMIT', `the integration already has ${count} open sessions (max_sessions ${max}); release a client first`);
    }
    this.#counts.set(target.integrationId, count + 1);
    let lease: Lease;
    try {
      lease = await this.#pools.acquire(target, mode);
    } catch (err) {
      this.#decrement(target.integrationId);
      throw err;
    }
    const idle = target.limits.session_idle_timeout_ms ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS;
    const session = new Session(newId('session'), target.integrationId, lease, idle, (s) => void this.#end(s));
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The open session `sessionId` of `integrationId`; anything else is QS_SESSION_NOT_FOUND. */
  get(sessionId: string, integrationId: string): Session {
    const session = this.#sessions.get(sessionId);
    // Another integration's id gets the same answer as an unknown one: ids are not an oracle.
    if (!session || session.integrationId !== integrationId || session.closed) throw sessionNotFound();
    return session;
  }

  /** Rolls back anything open, resets and returns the connection. Unknown ids are a no-op. */
  async close(sessionId: string): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (session) await this.#end(session);
  }

  /** Closes every session of one integration (integration deleted or credential revoked). */
  async closeAllFor(integrationId: string): Promise<void> {
    await Promise.all([...this.#sessions.values()].filter((s) => s.integrationId === integrationId).map((s) => this.#end(s)));
  }

  /** Closes every session and waits for the connections to be back in their pools. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((s) => this.#end(s)));
    await Promise.all([...this.#closing]);
  }

  /** Counts for metrics. */
  stats(): SessionStats {
    let inTransaction = 0;
    for (const s of this.#sessions.values()) if (s.inTransaction) inTransaction++;
    return { open: this.#sessions.size, inTransaction, byIntegration: Object.fromEntries(this.#counts) };
  }

  #end(session: Session): Promise<void> {
    if (this.#sessions.get(session.id) !== session) return Promise.resolve();
    // Forget the id first: from now on it is not found, even while the cleanup runs.
    this.#sessions.delete(session.id);
    const done = session.dispose().finally(() => {
      this.#decrement(session.integrationId);
      this.#closing.delete(done);
    });
    this.#closing.add(done);
    return done;
  }

  #decrement(integrationId: string): void {
    const n = (this.#counts.get(integrationId) ?? 1) - 1;
    if (n <= 0) this.#counts.delete(integrationId);
    else this.#counts.set(integrationId, n);
  }
}
