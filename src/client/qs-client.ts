import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { EnvelopeVerificationError, QsError } from '../protocol/errors.js';
import type { WireResult } from '../protocol/wire.js';
import { resolveConfig, type QsConnectionOptions, type ResolvedConfig } from './config.js';
import { clientDatabaseError, toDatabaseError } from './errors.js';
import type { OutboundCall } from './outbound-call.js';
import { sendOutbound } from './outbound-pipeline.js';
import { PgTypeOverridesClass, pgUtils, type PgTypeOverrides, type TypeParserSource } from './pg-internals.js';
import { prepareParams } from './query-values.js';
import { buildResult, emptyResult } from './result.js';
import { needsSession, retryInSession } from './session-need.js';
import { guessOperation } from './sql-operation-hint.js';

/** A query config as pg takes it (`{text, values, rowMode, types, name, query_timeout}`). */
export interface QsQueryConfig {
  text: string;
  values?: unknown[];
  rowMode?: 'array';
  types?: TypeParserSource;
  /** Accepted for compatibility; the proxy prepares statements itself. */
  name?: string;
  query_timeout?: number;
}

/** pg's QueryResult: at run time the very `pg/lib/result.js` instance direct pg returns. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default row type
export type QsQueryResult<R extends pg.QueryResultRow = any> = pg.QueryResult<R>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's callback shape
export type QsQueryCallback = (err: Error | null, result?: any) => void;

/** Set by QsPool on a client it checks out for one `pool.query()`: that client stays sessionless. */
export const kOneShot = Symbol('quantaseal.one-shot');

interface PendingQuery {
  kind: 'query';
  text: string;
  values: unknown;
  rowMode: string | undefined;
  types: TypeParserSource;
  callback: QsQueryCallback;
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
}

interface CloseTask {
  kind: 'close';
}

/** Closes get a bound of their own: a hung proxy must not hang pool.end(); the server expires sessions anyway. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * A virtual PostgreSQL connection with the `pg.Client` surface (DESIGN §1): promise and callback
 * `query` in every form pg accepts, queries run one at a time in order, `connect`, `end`,
 * `release` (supplied by pg-pool), events `error`/`end`/`notice`/`connect`.
 *
 * Sessions: a client behaves like one real connection, lazily. Plain reads and writes run
 * sessionless (one round trip, as `pool.query()`), until the first statement that needs a
 * connection of its own (BEGIN, SET, SAVEPOINT, DDL, locks, LISTEN, PREPARE, temp tables… see
 * `needsSession`) asks the proxy for a session (`session_id:"new"`, in the same round trip); from
 * then on every statement runs on that session, so transactions and session state behave as on
 * pg, until `release()` or `end()` closes it. A client that never opened one sends no close. A
 * client QsPool checks out internally for a one-shot `pool.query()` always runs sessionless.
 *
 * `connect()` needs no network; configuration errors surface there (and on every query).
 * `processID`/`secretKey` stay null: there is no backend pid to cancel on this side of the proxy.
 */
export class QsClient extends EventEmitter {
  /** pg-pool and ORMs read these pg internals. */
  _ending = false;
  _ended = false;
  _connecting = false;
  _connected = false;
  _queryable = true;
  /** Per-client type parsers falling back to the global pg.types (pg's `client._types`). */
  readonly _types: PgTypeOverrides;
  /** Always null: the PostgreSQL backend lives behind the proxy. */
  readonly processID: number | null = null;
  readonly secretKey: number | null = null;
  [kOneShot] = false;

  #config: ResolvedConfig | undefined;
  #configError: unknown;
  #sessionId: string | null = null;
  #queue: Array<PendingQuery | CloseTask> = [];
  #running = false;
  #endWaiters: Array<() => void> = [];
  #release: ((err?: Error | boolean) => void) | undefined;

  /** @param options see QsConnectionOptions; pg options pg-pool passes along are accepted. */
  constructor(options?: QsConnectionOptions | Record<string, unknown>) {
    super();
    try {
      this.#config = resolveConfig(options ?? undefined);
    } catch (err) {
      // pg-pool constructs clients inside its queue pulse, where a throw would be lost: the
      // error is reported by connect() instead, as pg reports a bad host there.
      this.#configError = err;
    }
    this._types = new PgTypeOverridesClass((options as { types?: TypeParserSource } | undefined)?.types);
  }

  /** The server session this client has pinned, if any (`ses_…`). */
  get sessionId(): string | null {
    return this.#sessionId;
  }

  /**
   * Set by pg-pool on every checkout; reading it gives pg-pool's release wrapped so that the
   * session is closed first. Works with QsPool and with a plain `new pg.Pool({ Client: QsClient })`.
   * Undefined on a client that did not come from a pool, as on a plain pg.Client.
   */
  get release(): ((err?: Error | boolean) => void) | undefined {
    return this.#release;
  }

  set release(fn: ((err?: Error | boolean) => void) | undefined) {
    this.#release =
      typeof fn === 'function'
        ? (err?: Error | boolean) => {
            const oneShot = this[kOneShot];
            this[kOneShot] = false;
            // Queued behind any statement still in flight, so a session that statement opens is
            // closed too. A one-shot client can hold one only if a pool hook (onConnect) used it.
            if (!oneShot || this.#sessionId !== null) this.#enqueue({ kind: 'close' });
            fn(err);
          }
        : undefined;
  }

  /** Validates the configuration; no network round trip (sessions open with the first statement). */
  connect(): Promise<this>;
  connect(callback: (err: Error | null, client?: QsClient) => void): void;
  connect(callback?: (err: Error | null, client?: QsClient) => void): Promise<this> | void {
    const promise = new Promise<this>((resolve, reject) => {
      process.nextTick(() => {
        if (this._connecting || this._connected) return reject(new Error('Client has already been connected. You cannot reuse a client.'));
        if (this.#configError !== undefined) return reject(this.#configError as Error);
        this._connecting = true;
        this._connected = true;
        this._connecting = false;
        this.emit('connect');
        resolve(this);
      });
    });
    if (callback) {
      promise.then(
        (client) => callback(null, client),
        (err: Error) => callback(err),
      );
      return;
    }
    return promise;
  }

  /**
   * Run a statement, in any form pg accepts: `(text)`, `(text, values)`, `(text, values, cb)`,
   * `(text, cb)`, `(config)`, `(config, values)`, `(config, cb)`, `(config, values, cb)`.
   * Returns a promise when no callback is given. A string of several statements without
   * parameters resolves to an array of results, as pg's simple query protocol does.
   * Submittables (`pg.Query`, pg-cursor, pg-query-stream) are not supported.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- pg's own default row type
  query<R extends pg.QueryResultRow = any>(config: string | QsQueryConfig, values?: unknown[]): Promise<QsQueryResult<R>>;
  query(config: string | QsQueryConfig, callback: QsQueryCallback): void;
  query(config: string | QsQueryConfig, values: unknown[] | undefined, callback: QsQueryCallback): void;
  query(config: unknown, values?: unknown, callback?: unknown): Promise<QsQueryResult> | void {
    if (config == null) throw new TypeError('Client was passed a null or undefined query');
    if (typeof (config as { submit?: unknown }).submit === 'function') {
      throw new QsError('QS_CONFIG', 'submittable queries (pg.Query, pg-cursor, pg-query-stream) are not supported by QuantaSeal; use query(text, values)');
    }
    const q = pgUtils.normalizeQueryConfig(config, values, callback) as unknown as QsQueryConfig & { callback?: unknown };
    let result: Promise<QsQueryResult> | undefined;
    let cb: QsQueryCallback;
    if (q.callback === undefined) {
      result = new Promise<QsQueryResult>((resolve, reject) => {
        cb = (err, res) => (err ? reject(err) : resolve(res as QsQueryResult));
      }).catch((err: unknown) => {
        // As pg: point the stack at the caller, not at the transport.
        if (err instanceof Error) Error.captureStackTrace(err);
        throw err;
      });
    } else if (typeof q.callback !== 'function') {
      throw new TypeError('callback is not a function');
    } else {
      cb = q.callback as QsQueryCallback;
    }
    const pending: PendingQuery = {
      kind: 'query',
      text: q.text,
      values: q.values,
      rowMode: q.rowMode,
      types: q.types ?? this._types,
      callback: cb!,
      controller: new AbortController(),
      timer: undefined,
      timedOut: false,
    };
    const refusal = this.#refusal();
    if (refusal !== undefined) {
      process.nextTick(() => pending.callback(refusal));
      return result;
    }
    // pg starts query_timeout when query() is called, so time spent queued counts.
    const timeout = q.query_timeout || this.#config?.queryTimeout;
    if (timeout) pending.timer = setTimeout(() => this.#timeOut(pending), timeout);
    this.#enqueue(pending);
    return result;
  }

  /**
   * Close the session (if one is open) and end the client. Queries already queued still run;
   * new ones are refused, as on a closed pg client.
   */
  end(): Promise<void>;
  end(callback: (err?: Error) => void): void;
  end(callback?: (err?: Error) => void): Promise<void> | void {
    const done = new Promise<void>((resolve) => {
      if (this._ended) return resolve();
      this.#endWaiters.push(resolve);
      if (this._ending) return;
      this._ending = true;
      this.#enqueue({ kind: 'close' });
    });
    if (callback) {
      void done.then(() => callback());
      return;
    }
    return done;
  }

  /** @internal resolves once `end()` has completed (its session close included). */
  _whenEnded(): Promise<void> {
    if (this._ended) return Promise.resolve();
    return new Promise((resolve) => this.#endWaiters.push(resolve));
  }

  /** No sockets of its own to (un)reference: pg-pool calls these with allowExitOnIdle. */
  ref(): void {}
  unref(): void {}

  /** For pg-pool's connection-timeout path. */
  isConnected(): boolean {
    return this._connected && !this._ended;
  }

  /** pg returns the last ReadyForQuery status; the proxy does not report it, so always null. */
  getTransactionStatus(): null {
    return null;
  }

  /** pg's identifier quoting. */
  escapeIdentifier(str: string): string {
    return pgUtils.escapeIdentifier(str);
  }

  /** pg's literal quoting. */
  escapeLiteral(str: string): string {
    return pgUtils.escapeLiteral(str);
  }

  /** Per-client type parser, as pg's `client.setTypeParser`. */
  setTypeParser(oid: number, format: string | ((v: string) => unknown), parseFn?: (v: string) => unknown): void {
    this._types.setTypeParser(oid, format, parseFn);
  }

  /** Per-client type parser lookup, as pg's `client.getTypeParser`. */
  getTypeParser(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
    return this._types.getTypeParser(oid, format);
  }

  #refusal(): Error | undefined {
    if (this.#configError !== undefined) return this.#configError as Error;
    if (!this._queryable) return new Error('Client has encountered a connection error and is not queryable');
    if (this._ending) return new Error('Client was closed and is not queryable');
    return undefined;
  }

  #enqueue(task: PendingQuery | CloseTask): void {
    this.#queue.push(task);
    this.#pulse();
  }

  #pulse(): void {
    if (this.#running) return;
    const task = this.#queue.shift();
    if (task === undefined) {
      if (this._ending && !this._ended) this.#finishEnd();
      return;
    }
    this.#running = true;
    const run = task.kind === 'close' ? this.#closeSession() : this.#runQuery(task);
    void run.finally(() => {
      this.#running = false;
      this.#pulse();
    });
  }

  #finishEnd(): void {
    const emitEnd = this._connected || this._connecting;
    // As pg, _connected stays true: an ended client cannot be connected again.
    this._ended = true;
    const waiters = this.#endWaiters.splice(0);
    for (const resolve of waiters) resolve();
    if (emitEnd) process.nextTick(() => this.emit('end'));
  }

  #timeOut(pending: PendingQuery): void {
    pending.timedOut = true;
    const index = this.#queue.indexOf(pending);
    if (index !== -1) {
      this.#queue.splice(index, 1);
    } else {
      pending.controller.abort();
      // The statement may still be running in the session: its state is unknown from now on.
      if (!this[kOneShot]) this._queryable = false;
    }
    deliver(pending, clientDatabaseError('QS_TIMEOUT', 'Query read timeout'));
  }

  async #runQuery(pending: PendingQuery): Promise<void> {
    const cfg = this.#config;
    if (cfg === undefined || pending.timedOut) return;
    let outcome: { err: Error } | { res: QsQueryResult | QsQueryResult[] };
    const sessionful = !this[kOneShot];
    try {
      outcome = { res: await this.#execute(cfg, pending, sessionful) };
    } catch (err) {
      outcome = { err: err as Error };
      if (sessionful && isConnectionLevel(err, pending)) {
        // The statement may or may not have run in the session; like pg after a broken socket,
        // this client is done (pg-pool discards it on release, which closes the session).
        this._queryable = false;
      }
    }
    if (pending.timer) clearTimeout(pending.timer);
    if (pending.timedOut) return;
    deliver(pending, 'err' in outcome ? outcome.err : null, 'res' in outcome ? outcome.res : undefined);
  }

  async #execute(cfg: ResolvedConfig, pending: PendingQuery, sessionful: boolean): Promise<QsQueryResult | QsQueryResult[]> {
    if (typeof pending.text !== 'string') throw new Error('A query must have either text or a name. Supplying neither is unsupported.');
    if (pending.values != null && !Array.isArray(pending.values)) throw new Error('Query values must be an array');
    const params = prepareParams((pending.values as unknown[] | undefined) ?? []);
    const hint = guessOperation(pending.text);
    const call: OutboundCall =
      hint.multiStatement && params.length === 0
        ? { operation: 'transaction', payload: { sql: pending.text } }
        : { operation: hint.operation, payload: { sql: pending.text, params } };
    // A checked-out client opens its session lazily (DESIGN §1): only the first statement that
    // needs a connection of its own asks for one, and every later statement stays on it.
    const inSession = sessionful && (this.#sessionId !== null || needsSession(pending.text, hint));
    if (inSession) call.sessionId = this.#sessionId ?? 'new';
    let answer = await sendOutbound(cfg, call, pending.controller.signal);
    if (sessionful && !inSession && 'error' in answer && retryInSession(answer.error, call.operation)) {
      // Refused before it ran, in a way a session would accept: send it again, opening one.
      call.sessionId = 'new';
      answer = await sendOutbound(cfg, call, pending.controller.signal);
    }
    if (call.sessionId !== undefined && typeof answer.session_id === 'string') this.#sessionId = answer.session_id;
    if ('error' in answer) {
      if (answer.error.qs_code === 'QS_SESSION_NOT_FOUND') {
        this.#sessionId = null;
        this._queryable = false;
      }
      throw toDatabaseError(answer.error);
    }
    return toPgResults(answer.results, pending);
  }

  async #closeSession(): Promise<void> {
    const sessionId = this.#sessionId;
    const cfg = this.#config;
    this.#sessionId = null;
    if (sessionId === null || cfg === undefined) return;
    try {
      await sendOutbound(cfg, { operation: 'transaction', payload: { action: 'close' }, sessionId }, AbortSignal.timeout(CLOSE_TIMEOUT_MS));
    } catch {
      // Nothing to tell the app: the session rolls back and is freed on the server's idle timeout.
    }
  }
}

function toPgResults(results: WireResult[], pending: PendingQuery): QsQueryResult | QsQueryResult[] {
  const built = results.map((r) => buildResult(r, pending.rowMode, pending.types) as unknown as QsQueryResult);
  if (built.length === 0) return emptyResult(pending.rowMode, pending.types) as unknown as QsQueryResult;
  return built.length === 1 ? built[0]! : built;
}

/** Errors after which the session's state is unknown. */
function isConnectionLevel(err: unknown, pending: PendingQuery): boolean {
  if (pending.timedOut || err instanceof EnvelopeVerificationError) return true;
  return err instanceof QsError && (err.code === 'QS_TRANSPORT' || err.code === 'QS_TIMEOUT');
}

function deliver(pending: PendingQuery, err: Error | null, res?: QsQueryResult | QsQueryResult[]): void {
  try {
    pending.callback(err, res);
  } catch (thrown) {
    // As pg: an exception from the app's callback must not break the client's queue.
    process.nextTick(() => {
      throw thrown;
    });
  }
}
