import { ERROR_CODES, type QsErrorCode } from './error-codes.js';

const kQsError = Symbol.for('quantaseal.error');

/**
 * The base of every error QuantaSeal raises itself. `code` is stable (see ERROR_CODES);
 * the message is for people and may change. Branded with a global symbol so `isQsError`
 * works across two copies of the package.
 */
export class QsError extends Error {
  readonly code: QsErrorCode;
  readonly statusCode: number;
  readonly sqlstate: string;
  /** PostgreSQL error fields that apply to a refusal too (e.g. `position` of a syntax error). */
  readonly pgFields?: { position?: string; detail?: string; hint?: string };

  constructor(code: QsErrorCode, message: string, options?: { cause?: unknown; pgFields?: { position?: string; detail?: string; hint?: string } }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.pgFields !== undefined) this.pgFields = options.pgFields;
    this.name = 'QsError';
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
    this.sqlstate = ERROR_CODES[code].sqlstate;
    Object.defineProperty(this, kQsError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kQsError] === true;
  }
}

export function isQsError(value: unknown): value is QsError {
  return value instanceof QsError;
}

const kEnvelopeError = Symbol.for('quantaseal.envelope-error');

/**
 * The one error an envelope that fails to open raises. Its message never says which check
 * failed (signature, HMAC, binding, decryption or shape), so a probing peer learns nothing.
 */
export class EnvelopeVerificationError extends QsError {
  constructor() {
    super('QS_ENVELOPE_INVALID', 'response envelope verification failed');
    this.name = 'EnvelopeVerificationError';
    Object.defineProperty(this, kEnvelopeError, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kEnvelopeError] === true;
  }
}
