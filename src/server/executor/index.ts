/** The executor domain: run SQL for an integration and answer with PostgreSQL's raw results. */
export { Executor, type RunRequest, type RunResponse, type ExecutorOptions } from './executor.js';
export { PoolManager, type PoolManagerOptions, type PoolMode, type PoolPair, type Lease, type PoolStats } from './pool-manager.js';
export { SessionManager, Session, type SessionStats, DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT_MS } from './sessions.js';
export { runRaw, RAW_TYPES, type RawStatement, type RawQueryOptions, type RawQueryable } from './raw-query.js';
export { toWireError, toConnectionError, scrubSecrets, isDatabaseError, type ConnectionErrorContext } from './errors.js';
export { testLogin, type LoginCheck } from './login-check.js';
export { parseDsn, connectionConfig, type DsnConfig } from './dsn-config.js';
export type { ExecutionTarget, ExecutionLimits } from './types.js';
