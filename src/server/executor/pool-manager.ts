import pg from 'pg';
import { DivertingClient } from './row-diverter.js';
import type { PoolClient } from 'pg';
import { connectionConfig, parseDsn } from './dsn-config.js';
import { toConnectionError } from './errors.js';
import { testLogin, type LoginCheck } from './login-check.js';
import type { ExecutionTarget } from './types.js';

/**
 * Connection pools per integration (DESIGN §4, §6). Each integration gets two pools over the
 * same credential: `write` for execute/transaction/sessions and `read` for `query`, whose
 * connections start with `default_transaction_read_only=on` — a second wall behind the
 * classifier, so a write that slips through still fails with SQLSTATE 25006.
 *
 * A target with a newer credential version (rotation) or other connection limits retires the
 * open pools: they end once every lease taken from them is returned, so queries and sessions
 * in flight on the old credential finish normally while new work goes to the new pools.
 */

/** Which pool a statement runs on. */
export type PoolMode = 'read' | 'write';

/** The two pools of one integration at one credential version. */
export interface PoolPair {
  read: pg.Pool;
  write: pg.Pool;
  credentialId: string;
  credentialVersion: number;
  /** True when the DSN asked for TLS (used to word connection errors). */
  tls: boolean;
}

/** A checked-out connection; give it back with `release` exactly once. */
export interface Lease {
  client: PoolClient;
  mode: PoolMode;
  tls: boolean;
  credentialId: string;
  /** Returns the connection; `true` or an Error destroys it instead of pooling it. */
  release(destroy?: boolean | Error): void;
}

/** Pool sizing; the defaults suit one proxy node in front of one database. */
export interface PoolManagerOptions {
  /** Connections per pool (each integration has two pools). Default 10. */
  max?: number;
  /** Close a connection idle this long. Default 30 000 ms. */
  idleTimeoutMillis?: number;
  /** Give up connecting (or waiting for a free connection) after this long. Default 10 000 ms. */
  connectionTimeoutMillis?: number;
  /** Called with errors of idle connections (server restart, network drop); default: ignored. */
  onIdleError?: (err: Error, integrationId: string) => void;
}

/** Pool counts for /metrics. */
export interface PoolStats {
  integrations: number;
  /** Pools retired by a rotation that still wait for leases to come back. */
  draining: number;
  total: number;
  idle: number;
  waiting: number;
}

class PoolEntry {
  leases = 0;
  retired = false;
  pair: PoolPair | null = null;
  #ending = false;
  #resolveDone!: () => void;
  /** Resolves once the pools have ended (only ever after `retired`). */
  readonly done = new Promise<void>((resolve) => {
    this.#resolveDone = resolve;
  });

  constructor(
    readonly fingerprint: string,
    readonly credentialId: string,
    readonly credentialVersion: number,
    readonly pairPromise: Promise<PoolPair>,
  ) {}

  /** Ends the pools once retired and no lease is out; idempotent. */
  endIfDrained(): void {
    if (!this.retired || this.leases > 0 || this.#ending) return;
    this.#ending = true;
    this.pairPromise
      .then((pair) => Promise.all([pair.read.end(), pair.write.end()]))
      .catch(() => undefined)
      .finally(() => this.#resolveDone());
  }
}

function fingerprint(target: ExecutionTarget): string {
  return `${target.credentialId}\u0000${target.credentialVersion}\u0000${target.limits.statement_timeout_ms ?? 0}`;
}

/**
 * Clients of the read pool whose server reported `default_transaction_read_only` switched off
 * (PostgreSQL >= 14 reports it as a ParameterStatus, e.g. after `SELECT set_config(…)`); such a
 * connection is destroyed on release instead of serving the next query read-write.
 */
const tampered = new WeakSet<pg.ClientBase>();

/** Lazily opened, rotation-aware pools keyed by integration id. */
export class PoolManager {
  readonly #entries = new Map<string, PoolEntry>();
  readonly #draining = new Set<PoolEntry>();
  readonly #options: Required<Omit<PoolManagerOptions, 'onIdleError'>> & Pick<PoolManagerOptions, 'onIdleError'>;

  constructor(options: PoolManagerOptions = {}) {
    this.#options = {
      max: options.max ?? 10,
      idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      onIdleError: options.onIdleError,
    };
  }

  /**
   * The current pools for `target`, opened on first use. Prefer `acquire`: a pool taken from
   * here may be ended by a rotation while you hold it.
   */
  getPools(target: ExecutionTarget): Promise<PoolPair> {
    return this.#entryFor(target).pairPromise;
  }

  /**
   * Checks out a connection from the `mode` pool of `target`. The lease keeps the pools it
   * came from open across a rotation until it is released.
   */
  async acquire(target: ExecutionTarget, mode: PoolMode): Promise<Lease> {
    const entry = this.#entryFor(target);
    entry.leases++;
    let client: PoolClient;
    let pair: PoolPair;
    try {
      pair = await entry.pairPromise;
      client = await pair[mode].connect();
    } catch (err) {
      this.#returnLease(entry);
      throw toConnectionError(err, { credentialId: target.credentialId, tls: entry.pair?.tls }) ?? err;
    }
    // A checked-out client with no 'error' listener would crash the process if its socket
    // broke between queries (e.g. an idle session); remember the error and destroy it instead.
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken = err;
    };
    client.on('error', onError);
    let released = false;
    return {
      client,
      mode,
      tls: pair.tls,
      credentialId: pair.credentialId,
      release: (destroy?: boolean | Error) => {
        if (released) return;
        released = true;
        client.removeListener('error', onError);
        const kill = destroy ?? broken ?? (tampered.has(client) ? true : undefined);
        client.release(kill);
        this.#returnLease(entry);
      },
    };
  }

  /** Logs in with `dsn` and reports the role's risky privileges (see login-check.ts). */
  testLogin(dsn: string, options?: { credentialId?: string; timeoutMs?: number }): Promise<LoginCheck> {
    return testLogin(dsn, options);
  }

  /** Retires one integration's pools (integration deleted); resolves when they have ended. */
  async closeIntegration(integrationId: string): Promise<void> {
    const entry = this.#entries.get(integrationId);
    if (!entry) return;
    this.#entries.delete(integrationId);
    await this.#retire(entry);
  }

  /**
   * Retires every pool and resolves when all have ended, i.e. after in-flight queries finish.
   * Sessions hold leases: close them first (SessionManager.closeAll), or this waits for them.
   */
  async closeAll(): Promise<void> {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all([...entries.map((e) => this.#retire(e)), ...[...this.#draining].map((e) => e.done)]);
  }

  /** Counts for metrics. */
  stats(): PoolStats {
    const stats: PoolStats = { integrations: this.#entries.size, draining: this.#draining.size, total: 0, idle: 0, waiting: 0 };
    for (const entry of [...this.#entries.values(), ...this.#draining]) {
      for (const pool of entry.pair ? [entry.pair.read, entry.pair.write] : []) {
        stats.total += pool.totalCount;
        stats.idle += pool.idleCount;
        stats.waiting += pool.waitingCount;
      }
    }
    return stats;
  }

  #entryFor(target: ExecutionTarget): PoolEntry {
    const current = this.#entries.get(target.integrationId);
    if (current) {
      if (current.fingerprint === fingerprint(target)) return current;
      // A request that loaded the integration before a rotation: the newer pools serve it.
      if (current.credentialId === target.credentialId && target.credentialVersion < current.credentialVersion) return current;
      void this.#retire(current);
    }
    const pairPromise = this.#openPools(target);
    const entry = new PoolEntry(fingerprint(target), target.credentialId, target.credentialVersion, pairPromise);
    pairPromise.then(
      (pair) => {
        entry.pair = pair;
      },
      () => {
        // Unsealing failed: forget the entry so the next request tries again.
        if (this.#entries.get(target.integrationId) === entry) this.#entries.delete(target.integrationId);
      },
    );
    this.#entries.set(target.integrationId, entry);
    return entry;
  }

  async #openPools(target: ExecutionTarget): Promise<PoolPair> {
    const parsed = parseDsn(await target.getDsn());
    const make = (readOnly: boolean): pg.Pool => {
      const pool = new pg.Pool({
        // Its connections can hand a query's rows over as bytes (row-diverter.ts, encodeRows).
        Client: DivertingClient as unknown as new () => pg.ClientBase,
        ...connectionConfig(parsed, { readOnly, statementTimeoutMs: target.limits.statement_timeout_ms }),
        max: this.#options.max,
        idleTimeoutMillis: this.#options.idleTimeoutMillis,
        connectionTimeoutMillis: this.#options.connectionTimeoutMillis,
      });
      // pg-pool emits idle clients' errors on the pool; unhandled, they would crash the server.
      pool.on('error', (err) => this.#options.onIdleError?.(err, target.integrationId));
      if (readOnly) {
        pool.on('connect', (client) => {
          const connection = (client as pg.Client).connection as unknown as NodeJS.EventEmitter;
          connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
            if (msg.parameterName === 'default_transaction_read_only' && msg.parameterValue !== 'on') tampered.add(client);
          });
        });
      }
      return pool;
    };
    return {
      read: make(true),
      write: make(false),
      credentialId: target.credentialId,
      credentialVersion: target.credentialVersion,
      tls: parsed.tls,
    };
  }

  #retire(entry: PoolEntry): Promise<void> {
    if (!entry.retired) {
      entry.retired = true;
      this.#draining.add(entry);
      void entry.done.then(() => this.#draining.delete(entry));
    }
    entry.endIfDrained();
    return entry.done;
  }

  #returnLease(entry: PoolEntry): void {
    entry.leases--;
    entry.endIfDrained();
  }
}
