import { readFileSync } from 'node:fs';
import { parseClientKeys, type ClientKeys, type ClientKeysJson } from '../protocol/client-keys.js';
import { QsError } from '../protocol/errors.js';
import { PIPELINE_MAX_CALLS } from '../protocol/wire.js';
import { deriveResponseHmacKey } from '../protocol/keys.js';
import type { TypeParserSource } from './pg-internals.js';
import { httpTransport, type HttpTransportOptions, type QsTransport } from './transport.js';

/**
 * Options for `QsPool` / `QsClient` (and Knex's `connection`). Every piece may come from the
 * options, from `connectionString`, from the environment or from the client keys file, in that
 * order of precedence — as pg takes `PG*` variables for what the options leave out.
 *
 * `connectionString` format:
 * ```
 * quantaseal://<apiKey>@<host>[:<port>][/<integrationId>][?keys=<path to client keys JSON>&tls=1]
 * ```
 * The API key is the URL's user name (percent-encode nothing: `qs_live_…` is URL-safe);
 * `tls=1` (or `true`) selects https, anything else http. Example:
 * `quantaseal://qs_live_abc…@proxy.internal:8443/int_01J…?keys=/etc/qs/keys.json&tls=1`.
 *
 * Environment: `QUANTASEAL_URL`, `QUANTASEAL_API_KEY`, `QUANTASEAL_INTEGRATION_ID`,
 * `QUANTASEAL_CLIENT_KEYS` (path). `url` and `integrationId` default to the keys file's.
 */
export interface QsConnectionOptions {
  /** `quantaseal://…` (see above). */
  connectionString?: string;
  /** Proxy base URL, `http(s)://host:port`. */
  url?: string;
  /** Tenant API key (`qs_live_…`). Kept non-enumerable wherever the driver stores it. */
  apiKey?: string;
  /** `int_…`: the integration whose sealed DSN and policy the queries run under. */
  integrationId?: string;
  /** Path to the client keys JSON `quantaseal init` writes, or its parsed JSON or decoded form. */
  clientKeys?: string | ClientKeysJson | ClientKeys;
  /** Replace the HTTP layer (tests, custom agents). */
  transport?: QsTransport;
  /** Tuning of the default undici transport. */
  http?: HttpTransportOptions;
  /** Client-side bound per query, ms, as pg's: the request is aborted and fails with SQLSTATE 57014. */
  query_timeout?: number;
  /** Type parsers for every query of these clients (pg's `types` option). */
  types?: TypeParserSource;
  /**
   * Coalescing of concurrent one-shot queries (`pool.query()`): while exchanges are in flight,
   * the calls of one event-loop turn travel together in one POST /api/v2/proxy/pipeline. Default
   * on (`true`, or limits); `false` sends every call alone. A lone call never waits.
   */
  coalesce?: boolean | Partial<CoalesceLimits>;
}

/**
 * pg / pg-pool options that keep their meaning (pool sizing and timeouts, read by pg-pool itself)
 * or that are accepted and deliberately ignored because the proxy owns the PostgreSQL connection
 * (application_name, statement_timeout, … : send nothing, the integration's limits apply).
 */
const PG_OPTION_KEYS = new Set([
  'max', 'min', 'poolSize', 'idleTimeoutMillis', 'connectionTimeoutMillis', 'maxUses', 'maxLifetimeSeconds',
  'allowExitOnIdle', 'log', 'Promise', 'Client', 'onConnect', 'verify',
  'application_name', 'fallback_application_name', 'statement_timeout', 'lock_timeout',
  'idle_in_transaction_session_timeout', 'keepAlive', 'keepAliveInitialDelayMillis', 'client_encoding', 'options',
]);
const OWN_KEYS = new Set(['connectionString', 'url', 'apiKey', 'integrationId', 'clientKeys', 'transport', 'http', 'query_timeout', 'types', 'coalesce']);
/** pg options that would mean the app expects a direct database connection: refused, not ignored. */
const DIRECT_PG_KEYS = new Set(['host', 'port', 'user', 'password', 'database', 'ssl', 'stream', 'pipeline', 'binary', 'replication']);

/** How the driver coalesces concurrent one-shot calls (QsPool's `coalesce` option). */
export interface CoalesceLimits {
  /** Most calls per exchange (at most PIPELINE_MAX_CALLS). */
  maxCalls: number;
  /** Most request body bytes per exchange; a call bigger than a quarter of it always goes alone. */
  maxBodyBytes: number;
}

export const DEFAULT_COALESCE: CoalesceLimits = { maxCalls: 16, maxBodyBytes: 1024 * 1024 };

/** Everything a client needs to talk to the proxy, resolved once per pool. */
export interface ResolvedConfig {
  /** Proxy base URL without a trailing slash. */
  readonly url: string;
  readonly integrationId: string;
  readonly tenantId: string;
  /** Non-enumerable. */
  readonly apiKey: string;
  /** Non-enumerable (holds the ML-KEM secret seed). */
  readonly keys: ClientKeys;
  /** HKDF of the API key (DESIGN §3), derived once. Non-enumerable. */
  readonly hmacKey: Uint8Array;
  readonly transport: QsTransport;
  readonly queryTimeout: number | undefined;
  /** null: every call goes alone. */
  readonly coalesce: CoalesceLimits | null;
}

const cache = new WeakMap<object, ResolvedConfig>();
/** Symbol under which QsPool hands its resolved config to the clients it creates. */
export const kResolvedConfig = Symbol.for('quantaseal.resolved-config');

const configError = (message: string) => new QsError('QS_CONFIG', message);

/**
 * Resolve driver options (see QsConnectionOptions). Throws QS_CONFIG naming the missing or bad
 * piece; no message ever contains the API key or the connection string. Resolutions are cached
 * per options object, since pg-pool and Knex hand the same object to every client they create.
 */
export function resolveConfig(options: object | undefined | null, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const opts = (options ?? {}) as Record<string | symbol, unknown>;
  const given = opts[kResolvedConfig];
  if (given !== undefined) return given as ResolvedConfig;
  if (options) {
    const hit = cache.get(options);
    if (hit) return hit;
  }
  checkKeys(opts);
  const fromString = typeof opts.connectionString === 'string' ? parseConnectionString(opts.connectionString) : {};
  if (opts.connectionString !== undefined && typeof opts.connectionString !== 'string') throw configError('connectionString must be a string');

  const keysSource = (opts.clientKeys as QsConnectionOptions['clientKeys']) ?? fromString.clientKeys ?? nonEmpty(env.QUANTASEAL_CLIENT_KEYS);
  if (keysSource === undefined) {
    throw configError('no client keys: pass clientKeys (the path quantaseal init printed), ?keys= in the connection string, or set QUANTASEAL_CLIENT_KEYS');
  }
  const keys = loadClientKeys(keysSource);
  const apiKey = str(opts.apiKey, 'apiKey') ?? fromString.apiKey ?? nonEmpty(env.QUANTASEAL_API_KEY);
  if (apiKey === undefined) throw configError('no API key: pass apiKey, put it in the connection string, or set QUANTASEAL_API_KEY');
  const url = normalizeUrl(str(opts.url, 'url') ?? fromString.url ?? nonEmpty(env.QUANTASEAL_URL) ?? keys.url);
  const integrationId = str(opts.integrationId, 'integrationId') ?? fromString.integrationId ?? nonEmpty(env.QUANTASEAL_INTEGRATION_ID) ?? keys.integrationId;
  const queryTimeout = opts.query_timeout;
  if (queryTimeout !== undefined && queryTimeout !== false && (typeof queryTimeout !== 'number' || !(queryTimeout >= 0))) {
    throw configError('query_timeout must be a number of milliseconds');
  }
  const transport = (opts.transport as QsTransport | undefined) ?? httpTransport(new URL(url).origin, (opts.http as HttpTransportOptions | undefined) ?? {});

  const resolved = {
    url,
    integrationId,
    tenantId: keys.tenantId,
    transport,
    queryTimeout: typeof queryTimeout === 'number' && queryTimeout > 0 ? queryTimeout : undefined,
    coalesce: coalesceLimits(opts.coalesce),
  } as ResolvedConfig;
  hide(resolved, 'apiKey', apiKey);
  hide(resolved, 'keys', keys);
  hide(resolved, 'hmacKey', deriveResponseHmacKey(apiKey, keys.tenantId));
  Object.freeze(resolved);
  if (options) cache.set(options, resolved);
  return resolved;
}

function coalesceLimits(value: unknown): CoalesceLimits | null {
  if (value === undefined || value === true) return DEFAULT_COALESCE;
  if (value === false) return null;
  if (typeof value !== 'object' || value === null) throw configError('coalesce must be true, false or {maxCalls, maxBodyBytes}');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== 'maxCalls' && k !== 'maxBodyBytes') throw configError(`coalesce: unknown option "${k}"`);
  const int = (x: unknown, name: string, min: number, max: number, fallback: number): number => {
    if (x === undefined) return fallback;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw configError(`coalesce.${name} must be an integer from ${min} to ${max}`);
    return x;
  };
  return {
    maxCalls: int(v.maxCalls, 'maxCalls', 1, PIPELINE_MAX_CALLS, DEFAULT_COALESCE.maxCalls),
    maxBodyBytes: int(v.maxBodyBytes, 'maxBodyBytes', 16 * 1024, 64 * 1024 * 1024, DEFAULT_COALESCE.maxBodyBytes),
  };
}

/** Define `name` on `target` so it does not show in console.log, JSON or stack dumps. */
export function hide(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, enumerable: false, writable: true, configurable: true });
}

function checkKeys(opts: Record<string | symbol, unknown>): void {
  for (const key of Object.keys(opts)) {
    if (OWN_KEYS.has(key) || PG_OPTION_KEYS.has(key) || opts[key] === undefined) continue;
    if (DIRECT_PG_KEYS.has(key)) {
      // binary:false / pipeline:false mean nothing to refuse.
      if ((key === 'binary' || key === 'pipeline') && opts[key] === false) continue;
      throw configError(`option "${key}" configures a direct PostgreSQL connection; with QuantaSeal the DSN is sealed on the proxy — pass url, apiKey, integrationId and clientKeys instead`);
    }
    throw configError(`unknown option "${key}"`);
  }
}

interface ConnectionStringParts {
  url?: string;
  apiKey?: string;
  integrationId?: string;
  clientKeys?: string;
}

/** Parse `quantaseal://<apiKey>@host:port/<integrationId>?keys=…&tls=1` (see QsConnectionOptions). */
export function parseConnectionString(value: string): ConnectionStringParts {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw configError('connectionString is not a valid URL (expected quantaseal://<apiKey>@host:port/<integrationId>?keys=/path/keys.json)');
  }
  if (u.protocol !== 'quantaseal:') {
    throw configError(`connectionString must use the quantaseal:// scheme, not ${u.protocol}// (a postgres:// DSN is sealed on the proxy with quantaseal init)`);
  }
  if (u.hostname === '') throw configError('connectionString has no host');
  const tls = u.searchParams.get('tls');
  const secure = tls === '1' || tls === 'true';
  const integrationId = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  return {
    url: `${secure ? 'https' : 'http'}://${u.host}`,
    apiKey: u.username === '' ? undefined : decodeURIComponent(u.username),
    integrationId: integrationId === '' ? undefined : integrationId,
    clientKeys: u.searchParams.get('keys') ?? undefined,
  };
}

/** Read and validate client keys: a path, their JSON form (as written by quantaseal init) or the decoded form. */
export function loadClientKeys(source: string | ClientKeysJson | ClientKeys): ClientKeys {
  if (typeof source === 'string') {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new QsError('QS_CONFIG', `cannot read the client keys file ${source}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw configError(`the client keys file ${source} is not valid JSON`);
    }
    return parseClientKeys(json);
  }
  if (typeof source === 'object' && source !== null && 'tenantId' in source && source.recipient.secretKey instanceof Uint8Array) return source;
  return parseClientKeys(source);
}

/** Validate a proxy base URL (http/https, no credentials) and drop any trailing slash. */
export function normalizeUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw configError('url is not a valid URL (expected http(s)://host:port)');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw configError(`url must be http:// or https://, not ${u.protocol}//`);
  if (u.username !== '' || u.password !== '') throw configError('url must not carry credentials; pass apiKey separately');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function str(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw configError(`${name} must be a string`);
  return value;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);
