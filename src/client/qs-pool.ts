import pg from 'pg';
import { kResolvedConfig, resolveConfig, type QsConnectionOptions } from './config.js';
import { kOneShot, QsClient } from './qs-client.js';

/** `pg.PoolConfig` plus the QuantaSeal connection options (see QsConnectionOptions). */
export type QsPoolConfig = QsConnectionOptions & Omit<pg.PoolConfig, keyof QsConnectionOptions | 'Client' | 'host' | 'port' | 'user' | 'password' | 'database' | 'ssl' | 'stream'>;

type PoolConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * A real `pg.Pool` (pg-pool's queueing, `max`, `idleTimeoutMillis`, `connectionTimeoutMillis`,
 * events and counts, `instanceof pg.Pool`) whose clients are QsClients talking to the QuantaSeal
 * proxy instead of PostgreSQL:
 *
 * ```ts
 * import { QsPool } from 'quantaseal';
 * const pool = new QsPool(); // QUANTASEAL_URL, _API_KEY, _INTEGRATION_ID, _CLIENT_KEYS
 * const { rows } = await pool.query('SELECT * FROM users WHERE id = $1', [42]);
 * ```
 *
 * `pool.query()` runs sessionless (the fast path); `pool.connect()` hands out a client that pins a
 * server session on its first statement that needs one (BEGIN, SET, …) and closes it on `release()`. The configuration is
 * resolved here, so a missing piece throws QS_CONFIG from the constructor.
 */
export class QsPool extends pg.Pool {
  /** @internal set by `query` around pg-pool's synchronous internal checkout. */
  _nextCheckoutOneShot = false;

  constructor(config?: QsPoolConfig) {
    const { apiKey: _apiKey, connectionString: _connectionString, clientKeys: _clientKeys, ...rest } = config ?? {};
    const resolved = resolveConfig(config ?? undefined);
    // The secrets travel to the clients only inside the resolved config, whose secret fields are
    // non-enumerable; pg-pool copies its options with Object.assign, which drops non-enumerables.
    super({ ...rest, Client: QsClient, [kResolvedConfig]: resolved } as unknown as pg.PoolConfig);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: PoolConnectCallback): void;
  override connect(callback?: PoolConnectCallback): Promise<pg.PoolClient> | void {
    if (this._nextCheckoutOneShot && callback) {
      this._nextCheckoutOneShot = false;
      return super.connect((err, client, done) => {
        if (client) (client as unknown as QsClient)[kOneShot] = true;
        callback(err, client, done);
      });
    }
    return callback ? super.connect(callback) : super.connect();
  }

  /**
   * pg-pool's `end`, which also waits until every client has finished its own `end()` — i.e. until
   * the proxy has been told to close every session (pg-pool alone resolves before idle clients
   * have closed). As with pg, it resolves only once checked-out clients have been released.
   */
  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | void {
    const clients = [...(this as unknown as { _clients: QsClient[] })._clients];
    const done = super.end().then(() => Promise.all(clients.map((c) => c._whenEnded()))).then(() => undefined);
    if (callback) {
      void done.then(callback, callback);
      return;
    }
    return done;
  }
}

const pgPoolQuery = pg.Pool.prototype.query;
/**
 * pg-pool's own `query` (checkout → query → release, with all its events and queueing), with the
 * checkout it makes marked one-shot so that client runs without a session. pg-pool calls
 * `this.connect` synchronously from `query`; were that ever to change, the client would merely
 * open and close a session — slower, still correct. Assigned on the prototype (not declared as an
 * override) so QsPool keeps pg.Pool's typed overloads.
 */
QsPool.prototype.query = function query(this: QsPool, ...args: unknown[]) {
  this._nextCheckoutOneShot = true;
  try {
    return (pgPoolQuery as (...a: unknown[]) => unknown).apply(this, args);
  } finally {
    this._nextCheckoutOneShot = false;
  }
} as typeof pgPoolQuery;
