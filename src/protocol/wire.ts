/**
 * Request and payload shapes of the data plane (DESIGN §4, §5). Both the server and the driver
 * import these; they describe JSON, so they hold only JSON types.
 */

export const OPERATIONS = ['query', 'execute', 'transaction', 'tokenize_and_insert', 'ddl'] as const;
export type Operation = (typeof OPERATIONS)[number];

export function isOperation(value: unknown): value is Operation {
  return typeof value === 'string' && (OPERATIONS as readonly string[]).includes(value);
}

/** One parameterized statement. Parameters travel as pg would send them: text, or null. */
export interface SqlStatement {
  sql: string;
  params?: Array<string | null>;
}

export type QueryPayload = SqlStatement;
export type ExecutePayload = SqlStatement;
export type DdlPayload = SqlStatement;

/**
 * `transaction` takes one of: a batch (all-or-nothing), a simple-protocol multi-statement string
 * (`{sql}` without params, as pg sends several statements), an interactive action, or a single
 * BEGIN/COMMIT/ROLLBACK/SAVEPOINT statement inside a session. `{action:"close"}` with a
 * `session_id` rolls back anything open and frees the session (the driver's release()).
 */
export type TransactionPayload =
  | { statements: SqlStatement[] }
  | { action: 'begin' | 'commit' | 'rollback' | 'close' }
  | SqlStatement;

export interface TokenizeAndInsertPayload {
  table: string;
  records: Array<Record<string, string | number | boolean | null>>;
  returning?: string[];
}

/** Body of POST /api/v2/proxy/outbound. */
export interface OutboundRequest {
  integration_id: string;
  operation: Operation;
  payload: QueryPayload | ExecutePayload | TransactionPayload | TokenizeAndInsertPayload | DdlPayload;
  request_id: string;
  /** "new" opens a session in the same round trip; a `ses_…` id continues one. */
  session_id?: string | null;
  /**
   * The client's registered ML-KEM-768 key to seal the answer to. When absent the server uses
   * the tenant's most recently registered key.
   */
  recipient_key_id?: string;
}

/** The most calls one pipeline exchange may carry. */
export const PIPELINE_MAX_CALLS = 64;

/** `context.operation` of a pipeline's envelope: not a policy operation, the container of several. */
export const PIPELINE_OPERATION = 'pipeline';

/** One sessionless call inside a pipeline: what a lone POST /api/v2/proxy/outbound would carry. */
export interface PipelineCall {
  operation: Operation;
  payload: OutboundRequest['payload'];
}

/**
 * Body of POST /api/v2/proxy/pipeline: several independent sessionless calls in one exchange,
 * as libpq's pipeline mode sends several queries without waiting. Each call is checked, run,
 * audited and answered exactly as if it had come alone; one envelope answers them all.
 */
export interface PipelineRequest {
  integration_id: string;
  request_id: string;
  calls: PipelineCall[];
  recipient_key_id?: string;
}

/**
 * The decrypted payload of a pipeline's envelope: one answer per call, in call order, each with
 * its audit event and how long the call ran on its database connection (ms; 0 if it never got
 * one; not the wait for one), so the driver can stop coalescing statements that hold their
 * companions up.
 */
export interface PipelineResponsePayload {
  pipeline: Array<OutboundResponsePayload & { audit_event_id: string; elapsed_ms: number }>;
}

/** Field metadata exactly as PostgreSQL's RowDescription carried it. */
export interface WireField {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: 'text' | 'binary';
}

export interface WireResult {
  command: string;
  rowCount: number | null;
  oid: number | null;
  fields: WireField[];
  /** Rows in PostgreSQL's text form, one array per row, null for NULL. */
  rows: Array<Array<string | null>>;
}

/** Every DatabaseError field pg-protocol knows, plus our code when the proxy refused. */
export interface WireError {
  code: string;
  message: string;
  severity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
  qs_code?: string;
}

/** The decrypted payload of every proxy answer. */
export type OutboundResponsePayload =
  | { results: WireResult[]; session_id: string | null }
  | { error: WireError; session_id: string | null };
