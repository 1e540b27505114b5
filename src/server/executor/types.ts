/**
 * What the executor needs to know about an integration to run SQL for it. The route builds a
 * target from the integration and its credential; the executor never sees the store or vault.
 */

/** Per-integration limits the executor enforces (DESIGN §4 `limits`). */
export interface ExecutionLimits {
  /** PostgreSQL `statement_timeout` for every connection of the integration (0/absent: none). */
  statement_timeout_ms?: number;
  /** Refuse a result with more rows than this (QS_MAX_ROWS). */
  max_rows?: number;
  /** A session idle this long is rolled back and freed. Default 30 000 ms. */
  session_idle_timeout_ms?: number;
  /** Open sessions allowed per integration. Default 10. */
  max_sessions?: number;
}

/** One integration's database, as the executor sees it. */
export interface ExecutionTarget {
  integrationId: string;
  credentialId: string;
  /** Credential version; a higher version than the open pools' drains them and opens new ones. */
  credentialVersion: number;
  /** Unseals the DSN; called only when pools (or a login test) need a connection. */
  getDsn: () => Promise<string>;
  limits: ExecutionLimits;
}
