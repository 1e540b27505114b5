import { performance } from 'node:perf_hooks';
import { sha256 } from '../../crypto/symmetric.js';
import { sealWireEnvelope, type SealEnvelopeInput } from '../../protocol/envelope.js';
import type { WireEnvelope } from '../../protocol/wire-envelope.js';
import { QsError } from '../../protocol/errors.js';
import { isId, newId } from '../../protocol/ids.js';
import {
  isOperation,
  PIPELINE_OPERATION,
  type OutboundRequest,
  type OutboundResponsePayload,
  type PipelineRequest,
  type PipelineResponsePayload,
  type SqlStatement,
  type WireResult,
} from '../../protocol/wire.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import { toWireError } from '../executor/errors.js';
import { executionTimeOf, type Executor, type RunRequest } from '../executor/executor.js';
import { encodedRowsOf, serializeWithEncodedRows } from '../executor/row-json.js';
import type { ExecutionTarget } from '../executor/types.js';
import type { Metrics } from '../http/metrics.js';
import type { IntegrationService } from '../integrations/integration-service.js';
import type { RecipientKeyService } from '../keys/recipient-keys.js';
import type { ActiveSigningKey } from '../keys/signing-keys.js';
import { checkOperation, checkStatementInSession } from '../policy/enforce.js';
import type { AuditEventInput, AuditOutcome, IntegrationRecord, Store } from '../store/store.js';
import type { Principal } from '../tenants/tenant-service.js';
import type { VaultService } from '../vault/vault-service.js';
import { readStatement, readTransaction } from './request-shape.js';
import type { CryptoBackend } from '../../crypto/backend.js';
import type { EnvelopeSealer } from '../signing/batch-signer.js';
import { DEFAULT_PIPELINE_ANSWER_LIMIT } from '../config.js';
import { withholdLargeReads, type PipelineAnswer } from './pipeline-answer-limit.js';
import { REQUEST_CLAIM_TTL_MS, requestClaimKey } from './request-claims.js';

/**
 * Field-level tokenization, plugged in by the tokenization module: parameters in, results out.
 * Absent, parameters and results pass unchanged (no tokenized fields configured).
 */
export interface Tokenization {
  tokenizeParams(tenantId: string, integration: IntegrationRecord, statement: SqlStatement): Promise<SqlStatement>;
  detokenizeResults(tenantId: string, integration: IntegrationRecord, results: WireResult[]): Promise<WireResult[]>;
  insertRecords?(tenantId: string, integration: IntegrationRecord, payload: unknown): Promise<{ statement: SqlStatement; fingerprint: string }>;
}

export interface DataPlaneDeps {
  store: Store;
  backend: CryptoBackend;
  signingKey: ActiveSigningKey;
  integrations: IntegrationService;
  recipients: RecipientKeyService;
  vault: VaultService;
  audit: AuditWriter;
  executor: Executor;
  metrics: Metrics;
  tokenization?: Tokenization;
  /** Seals through the batch signer (DESIGN §8); absent, each envelope is signed alone inline. */
  signer?: EnvelopeSealer;
  /** Untokenized rows as JSON from PostgreSQL's bytes (ServerConfig.encodeRows); default off. */
  encodeRows?: boolean;
  /** Bound on one pipeline's summed answers (ServerConfig.pipelineAnswerLimit). */
  pipelineAnswerLimit?: number;
}

/** Codes that mean "the policy said no" (audited as denied) rather than "it failed". */
const DENIAL_CODES = new Set([
  'QS_OPERATION_DENIED',
  'QS_OPERATION_MISMATCH',
  'QS_MULTI_STATEMENT',
  'QS_STATEMENT_NOT_ALLOWED',
  'QS_TOKENIZATION_UNSUPPORTED',
  'QS_NOT_FOUND',
  'QS_SESSION_NOT_FOUND',
  'QS_SQL_SYNTAX',
]);

const OUTBOUND_ROUTE = 'POST /api/v2/proxy/outbound';
const PIPELINE_ROUTE = 'POST /api/v2/proxy/pipeline';

/** Longest a node trusts a cached credential version without a change notice. */
const CACHE_TTL_MS = 15_000;

/** read_only_sql_transaction: raised by the read-only pool before anything was written. */
const READ_ONLY_SQLSTATE = '25006';

/** Which call of which exact request body this is: a lone call is slot 0, a pipeline's by index. */
interface CallIdentity {
  requestSha256: string;
  slot: number;
}

interface RunOutcome {
  results: WireResult[];
  sessionId: string | null;
  fingerprint: string | null;
  /** RunResponse.executionMs; absent when nothing ran (a session closed). */
  executionMs?: number;
  /** It ran on a read-only connection, so running it again changes nothing. */
  readOnly?: boolean;
}

/**
 * POST /api/v2/proxy/outbound as one fixed pipeline (STYLE: fastify's hook list):
 * authenticate (done by the route) → load integration → classify/policy → tokenize → execute →
 * detokenize → audit → seal. Every answer after authentication is an envelope, errors included.
 */
export class DataPlane {
  /** Current credential version per credential id; dropped on a change notice, and after a TTL in case a notice was lost. */
  readonly #versions = new Map<string, { version: number; until: number }>();

  constructor(private readonly deps: DataPlaneDeps) {
    deps.store.onChange((n) => {
      if (n.topic === 'credential') this.#versions.clear();
    });
  }

  /**
   * Resolves the recipient key first: without one there is nobody to seal to, so that failure
   * (and only that one) is answered in plain JSON by the caller.
   */
  async outbound(principal: Principal, body: OutboundRequest, rawBody: Buffer): Promise<WireEnvelope> {
    const started = performance.now();
    const recipient = await this.deps.recipients.resolve(principal.tenantId, body.recipient_key_id);
    const requestSha256 = sha256(rawBody).toString('hex');
    const answer = await this.#answer(principal, body, OUTBOUND_ROUTE, started, { requestSha256, slot: 0 });
    this.#countCall(answer.audit);
    return this.#seal(principal, recipient, {
      payload: answer.payload,
      auditEvents: [answer.audit],
      context: { request_id: body.request_id, integration_id: body.integration_id, operation: body.operation, request_sha256: requestSha256 },
      success: !('error' in answer.payload),
      started,
    });
  }

  /**
   * POST /api/v2/proxy/pipeline: every call runs as if it had come alone (its own policy check,
   * connection, audit event and answer; one failing does not touch the others), concurrently,
   * and one envelope answers them all, in call order.
   */
  async pipeline(principal: Principal, body: PipelineRequest, rawBody: Buffer): Promise<WireEnvelope> {
    const started = performance.now();
    const recipient = await this.deps.recipients.resolve(principal.tenantId, body.recipient_key_id);
    const requestSha256 = sha256(rawBody).toString('hex');
    const answers = await Promise.all(
      body.calls.map((call, slot) =>
        this.#answer(
          principal,
          { integration_id: body.integration_id, operation: call.operation, payload: call.payload, request_id: body.request_id, session_id: null },
          PIPELINE_ROUTE,
          started,
          { requestSha256, slot },
        ),
      ),
    );
    const withheld = withholdLargeReads(answers, this.deps.pipelineAnswerLimit ?? DEFAULT_PIPELINE_ANSWER_LIMIT);
    if (withheld > 0) this.deps.metrics.pipelineWithheld.inc(withheld);
    for (const a of answers) this.#countCall(a.audit);
    const payload: PipelineResponsePayload = { pipeline: answers.map((a) => ({ ...a.payload, audit_event_id: a.audit.id, elapsed_ms: Math.round(a.elapsedMs) })) };
    return this.#seal(principal, recipient, {
      payload,
      auditEvents: answers.map((a) => a.audit),
      context: { request_id: body.request_id, integration_id: body.integration_id, operation: PIPELINE_OPERATION, request_sha256: requestSha256 },
      // The exchange as a whole succeeded; a call that failed says so in its own answer.
      success: true,
      started,
    });
  }

  /** quantaseal_proxy_calls_total, by what the call's audit event finally says. */
  #countCall(audit: AuditEventInput): void {
    this.deps.metrics.proxyCalls.inc({ operation: audit.operation ?? 'unknown', outcome: audit.outcome });
  }

  /** Runs one call and says what to answer and audit; never throws for what the call did. */
  async #answer(principal: Principal, body: OutboundRequest, route: string, started: number, call: CallIdentity): Promise<PipelineAnswer> {
    let payload: OutboundResponsePayload;
    let executionMs: number | undefined;
    let readOnly = false;
    let outcome: AuditOutcome = 'allowed';
    let fingerprint: string | null = null;
    let qsCode: string | null = null;
    let sqlstate: string | null = null;
    let rowCount: number | null = null;
    try {
      const run = await this.#run(principal, body, call);
      fingerprint = run.fingerprint;
      executionMs = run.executionMs;
      readOnly = run.readOnly === true;
      rowCount = run.results.reduce((n, r) => n + (r.rowCount ?? encodedRowsOf(r.rows)?.count ?? r.rows.length), 0);
      payload = { results: run.results, session_id: run.sessionId };
    } catch (err) {
      // A failure's own time on its connection; one that never reached one held nobody up.
      executionMs = executionTimeOf(err) ?? 0;
      const wire = toWireError(err);
      qsCode = wire.qs_code ?? null;
      sqlstate = wire.code;
      outcome = qsCode !== null && DENIAL_CODES.has(qsCode) ? 'denied' : 'failed';
      fingerprint = (err as { fingerprint?: string }).fingerprint ?? null;
      const sessionId = typeof body.session_id === 'string' && isId('session', body.session_id) ? body.session_id : null;
      payload = { error: wire, session_id: sessionId };
    }
    const operation = isOperation(body.operation) ? body.operation : 'unknown';
    const audit: AuditEventInput = {
      id: newId('audit'),
      tenantId: principal.tenantId,
      ts: new Date().toISOString(),
      integrationId: typeof body.integration_id === 'string' ? body.integration_id.slice(0, 64) : null,
      operation,
      apiKeyId: principal.apiKeyId,
      requestId: body.request_id,
      route,
      fingerprint,
      outcome,
      sqlstate,
      qsCode,
      rowCount,
      durationMs: Math.round(performance.now() - started),
    };
    return { payload, audit, elapsedMs: executionMs ?? audit.durationMs, readOnly };
  }

  /**
   * Seals the answer while its audit events commit (on the store's writer thread): the envelope
   * needs only their ids, and it leaves only once they are durable (DESIGN §6).
   */
  async #seal(
    principal: Principal,
    recipient: { keyId: string; publicKey: Uint8Array },
    answer: { payload: SealEnvelopeInput['payload']; auditEvents: AuditEventInput[]; context: SealEnvelopeInput['context']; success: boolean; started: number },
  ): Promise<WireEnvelope> {
    const committed = Promise.all(answer.auditEvents.map((e) => this.deps.audit.append(e, { mustNotBlock: true })));
    const sealStart = performance.now();
    const sealInput: SealEnvelopeInput = {
      payload: answer.payload,
      // Results' rows may be bytes already (executor/row-json.ts): they are spliced in here.
      serialized: serializeWithEncodedRows(answer.payload),
      tenantId: principal.tenantId,
      context: answer.context,
      recipient: { keyId: recipient.keyId, publicKey: recipient.publicKey },
      signer: { keyId: this.deps.signingKey.keyId, secretKey: this.deps.signingKey.secretKey },
      hmacKey: principal.responseHmacKey,
      // A pipeline's envelope names its first call's event; each answer inside names its own.
      auditEventId: answer.auditEvents[0]?.id ?? '',
      success: answer.success,
    };
    const sealed = (this.deps.signer ? this.deps.signer.sealWire(sealInput) : sealWireEnvelope(sealInput, { backend: this.deps.backend })).then((envelope) => {
      this.deps.metrics.sealDuration.observe((performance.now() - sealStart) / 1000);
      return envelope;
    });
    // A failed commit fails the call whatever the seal does: no answer without its audit event.
    const [, envelope] = await Promise.all([committed, sealed]);
    const operation = answer.context.operation;
    this.deps.metrics.proxyDuration.observe({ operation: isOperation(operation) || operation === PIPELINE_OPERATION ? operation : 'unknown' }, (performance.now() - answer.started) / 1000);
    return envelope;
  }

  openSessions(): number {
    return this.deps.executor.sessions.stats().open;
  }

  /** Closes an integration's sessions and pools (it was deleted). */
  async forgetIntegration(integrationId: string): Promise<void> {
    await this.deps.executor.sessions.closeAllFor(integrationId);
    await this.deps.executor.pools.closeIntegration(integrationId);
  }

  /** Rolls back and frees every session, then closes every pool. */
  async close(): Promise<void> {
    await this.deps.executor.close();
  }

  async #run(principal: Principal, body: OutboundRequest, call: CallIdentity): Promise<RunOutcome> {
    const { tenantId } = principal;
    const integration = await this.deps.integrations.require(tenantId, body.integration_id);
    const allowed = integration.allowedOperations.filter(isOperation);
    const operation = body.operation;
    if (!isOperation(operation)) throw new QsError('QS_INVALID_REQUEST', `unknown operation "${String(operation).slice(0, 64)}"`);
    // Default deny, before anything else is looked at.
    if (!allowed.includes(operation)) {
      throw new QsError('QS_OPERATION_DENIED', `operation "${operation}" is not in this integration's allowed_operations`);
    }
    // The read-only connection is the second wall (DESIGN §4). For an integration that may not
    // write, every connection it gets is read-only: sessions and batches included, so a SELECT
    // calling a writing function cannot write there either.
    const canWrite = allowed.some((op) => op === 'execute' || op === 'ddl' || op === 'tokenize_and_insert');
    const writeMode = canWrite ? 'write' : 'read';
    const sessionId = body.session_id ?? null;
    if (sessionId !== null && sessionId !== 'new' && !isId('session', sessionId)) throw new QsError('QS_SESSION_NOT_FOUND', 'no such session');
    const target = await this.#target(tenantId, integration);
    const tok = this.deps.tokenization;
    const tokenize = async (s: SqlStatement) => (tok && integration.tokenization.fields.length > 0 ? tok.tokenizeParams(tenantId, integration, s) : s);
    const detokenize = async (r: WireResult[]) => (tok && integration.tokenization.fields.length > 0 ? tok.detokenizeResults(tenantId, integration, r) : r);
    // Rows nothing here reads one by one (no tokenized column to detokenize) can stay bytes.
    const encodeRows = this.deps.encodeRows === true && integration.tokenization.fields.length === 0;
    const execute = async (request: RunRequest, fingerprint: string | null): Promise<RunOutcome> => {
      const out = await this.deps.executor.run({ ...request, encodeRows });
      return { results: await detokenize(out.results), sessionId: out.sessionId, fingerprint, executionMs: out.executionMs, readOnly: request.mode === 'read' };
    };

    if (operation === 'tokenize_and_insert') {
      if (!tok?.insertRecords) throw new QsError('QS_TOKENIZATION_UNSUPPORTED', 'tokenize_and_insert needs tokenization to be configured');
      const { statement, fingerprint } = await tok.insertRecords(tenantId, integration, body.payload);
      return execute({ target, mode: 'write', statements: [statement], batch: false, sessionId }, fingerprint);
    }

    if (operation === 'transaction') {
      const tx = readTransaction(body.payload);
      if (tx.kind === 'action') {
        if (tx.action === 'close') {
          if (sessionId === null || sessionId === 'new') throw new QsError('QS_INVALID_REQUEST', 'action "close" needs a session_id');
          // get() refuses another integration's session exactly like an unknown one.
          this.deps.executor.sessions.get(sessionId, integration.id);
          await this.deps.executor.sessions.close(sessionId);
          return { results: [], sessionId: null, fingerprint: null };
        }
        const sql = tx.action.toUpperCase();
        if (sessionId === null) throw new QsError('QS_INVALID_REQUEST', `action "${tx.action}" needs a session (session_id "new" or an id)`);
        return execute({ target, mode: writeMode, statements: [{ sql }], batch: false, sessionId }, null);
      }
      if (tx.kind === 'batch') {
        const checked = tx.statements.map((s) => ({ statement: s, policy: checkStatementInSession(s.sql, allowed) }));
        const statements = await Promise.all(checked.map((c) => tokenize(c.statement)));
        const fingerprint = checked.map((c) => c.policy.fingerprint).join(',');
        return execute({ target, mode: writeMode, statements, batch: true, sessionId }, fingerprint);
      }
      const { statement } = tx;
      if (statement.params === undefined || statement.params.length === 0) {
        // pg's simple protocol: maybe several statements, each checked under its own operation.
        const policy = checkOperation({ operation: 'transaction', sql: statement.sql, allowedOperations: allowed, inSession: sessionId !== null });
        if (policy.statements.length > 1) {
          if (tok && integration.tokenization.fields.length > 0) {
            // No parameters to tokenize, but each statement still goes through the mapper, which
            // refuses a tokenized column compared with or inserted from a literal in the text.
            for (const s of policy.statements) await tok.tokenizeParams(tenantId, integration, { sql: s.sql, params: [] });
          }
          return execute({ target, mode: writeMode, statements: [], simpleMulti: statement.sql, batch: false, sessionId }, policy.fingerprint);
        }
      }
      const policy = checkStatementInSession(statement.sql, allowed);
      return execute({ target, mode: writeMode, statements: [await tokenize(statement)], batch: false, sessionId }, policy.fingerprint);
    }

    const statement = readStatement(body.payload);
    const policy =
      sessionId === null
        ? checkOperation({ operation, sql: statement.sql, allowedOperations: allowed, inSession: false })
        : checkStatementInSession(statement.sql, allowed);
    const statements = [await tokenize(statement)];
    if (operation !== 'query' || sessionId !== null) {
      return execute({ target, mode: writeMode, statements, batch: false, sessionId }, policy.fingerprint);
    }
    try {
      return await execute({ target, mode: 'read', statements, batch: false, sessionId }, policy.fingerprint);
    } catch (err) {
      // A SELECT that writes (nextval(), a volatile function) hit the read-only wall, which
      // guarantees it changed nothing. The wall exists for integrations that may not write; one
      // that may (`execute`) gets the statement rerun on its write pool, as direct pg would run it.
      if ((err as { code?: unknown }).code !== READ_ONLY_SQLSTATE || !allowed.includes('execute')) throw err;
      // A read the driver sent again after a reset must not write twice (request-claims.ts).
      const now = Date.now();
      if (!(await this.deps.store.claimRequest(tenantId, requestClaimKey(call.requestSha256, call.slot), now + REQUEST_CLAIM_TTL_MS, now))) {
        throw new QsError('QS_ALREADY_RUN', 'this exact request already ran this SELECT on the write pool (it writes); it is not run twice, and the first outcome is lost with the connection that carried it');
      }
      return execute({ target, mode: 'write', statements, batch: false, sessionId }, policy.fingerprint);
    }
  }

  async #target(tenantId: string, integration: IntegrationRecord): Promise<ExecutionTarget> {
    const credentialId = integration.credentialId;
    const now = Date.now();
    let cached = this.#versions.get(credentialId);
    if (cached === undefined || cached.until < now) {
      const current = await this.deps.vault.currentVersion(tenantId, credentialId);
      if (current === null) throw new QsError('QS_NOT_FOUND', "the integration's credential no longer exists");
      cached = { version: current, until: now + CACHE_TTL_MS };
      this.#versions.set(credentialId, cached);
    }
    const pinned = cached.version;
    return {
      integrationId: integration.id,
      credentialId,
      credentialVersion: pinned,
      getDsn: async () => (await this.deps.vault.unsealDsn(tenantId, credentialId, pinned)).dsn,
      limits: integration.limits,
    };
  }
}
