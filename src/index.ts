/**
 * `quantaseal`: the drop-in pg driver (QsPool, QsClient) and the REST SDK (QuantaSeal).
 * Adapters live at `quantaseal/knex` and `quantaseal/kysely`; the wire contract at
 * `quantaseal/protocol`.
 */
export { QsPool, type QsPoolConfig } from './client/qs-pool.js';
export { QsClient, type QsQueryConfig, type QsQueryResult, type QsQueryCallback } from './client/qs-client.js';
export { QuantaSeal, type QuantaSealOptions, type IntegrationInput, type JsonObject } from './client/sdk.js';
export { parseConnectionString, type QsConnectionOptions } from './client/config.js';
export { httpTransport, type QsTransport, type QsTransportRequest, type QsTransportResponse, type HttpTransportOptions } from './client/transport.js';
export { guessOperation, type SqlHint } from './client/sql-operation-hint.js';
export type { QsDatabaseError } from './client/errors.js';
export { QsError, EnvelopeVerificationError, isQsError } from './protocol/errors.js';
export { ERROR_CODES, isQsErrorCode, type QsErrorCode } from './protocol/error-codes.js';
export type { ClientKeys, ClientKeysJson } from './protocol/client-keys.js';
export type { HybridCryptoEnvelope } from './protocol/envelope.js';
export type { Operation, OutboundRequest, OutboundResponsePayload, WireError, WireField, WireResult } from './protocol/wire.js';
