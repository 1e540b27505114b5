import { createHash } from 'node:crypto';
import type { ClientKeys, ClientKeysJson } from '../protocol/client-keys.js';
import { openEnvelope, type HybridCryptoEnvelope } from '../protocol/envelope.js';
import { QsError } from '../protocol/errors.js';
import { newId } from '../protocol/ids.js';
import { deriveResponseHmacKey } from '../protocol/keys.js';
import type { OutboundRequest } from '../protocol/wire.js';
import { loadClientKeys, normalizeUrl } from './config.js';
import { OUTBOUND_PATH, plainError, postRequest, transportError } from './outbound-call.js';
import { httpTransport, type QsTransport, type QsTransportRequest } from './transport.js';

/** Options of the REST SDK. `url`/`apiKey`/`clientKeys` fall back to QUANTASEAL_URL/_API_KEY/_CLIENT_KEYS. */
export interface QuantaSealOptions {
  url?: string;
  apiKey?: string;
  /** Needed only for `encryption.decrypt` (and as the source of `url` when none is given). */
  clientKeys?: string | ClientKeysJson | ClientKeys;
  transport?: QsTransport;
}

/** A JSON object as the control plane answers it. */
export type JsonObject = Record<string, unknown>;

/** Body of POST /api/v2/integrations (DESIGN §4). */
export interface IntegrationInput {
  system_type: 'postgres';
  credential_id: string;
  name?: string;
  allowed_operations: string[];
  tokenization?: { fields: Array<{ table: string; column: string; mode: 'deterministic' | 'random'; detokenize?: boolean }> };
  limits?: { max_rows?: number; statement_timeout_ms?: number };
}

const enc = encodeURIComponent;

/**
 * The QuantaSeal REST API for a tenant: vault, integrations, keys, the raw proxy call, envelope
 * opening and the audit log.
 *
 * ```ts
 * const qs = new QuantaSeal({ url: 'http://127.0.0.1:8080', apiKey: process.env.QUANTASEAL_API_KEY });
 * const { credential_id } = await qs.vault.seal({ dsn: 'postgres://app@db/app', name: 'main' });
 * ```
 * Errors are QsError with the server's code (QS_NOT_FOUND, QS_INVALID_DSN, …).
 */
export class QuantaSeal {
  /** Proxy base URL. */
  readonly url: string;
  // JS private fields: never enumerable, never printed by console.log or util.inspect.
  readonly #apiKey: string;
  readonly #clientKeys: ClientKeys | undefined;
  readonly #transport: QsTransport;

  /** Sealed database credentials. */
  readonly vault = {
    /** Seal a DSN; the answer never echoes it. */
    seal: (input: { dsn: string; name?: string }) =>
      this.#call('POST', '/api/v2/vault/seal', { credential_type: 'database_dsn', values: { dsn: input.dsn }, ...(input.name !== undefined ? { name: input.name } : {}) }),
    /** Two-phase rotation; `verify: false` skips the login check. */
    rotate: (credentialId: string, input: { dsn: string; verify?: boolean }) =>
      this.#call('POST', `/api/v2/vault/rotate/${enc(credentialId)}`, { values: { dsn: input.dsn }, ...(input.verify !== undefined ? { verify: input.verify } : {}) }),
    /** Credential metadata (never the DSN). */
    list: () => this.#call('GET', '/api/v2/vault/credentials'),
    delete: (credentialId: string) => this.#call('DELETE', `/api/v2/vault/credentials/${enc(credentialId)}`),
  };

  /** Integrations: a sealed credential plus its default-deny policy. */
  readonly integrations = {
    create: (input: IntegrationInput) => this.#call('POST', '/api/v2/integrations', input),
    get: (integrationId: string) => this.#call('GET', `/api/v2/integrations/${enc(integrationId)}`),
    update: (integrationId: string, patch: Partial<Omit<IntegrationInput, 'system_type'>>) => this.#call('PATCH', `/api/v2/integrations/${enc(integrationId)}`, patch),
    list: () => this.#call('GET', '/api/v2/integrations'),
    delete: (integrationId: string) => this.#call('DELETE', `/api/v2/integrations/${enc(integrationId)}`),
  };

  /** Server signing keys and client recipient keys. */
  readonly keys = {
    /** The server's ML-DSA-65 public key(s), to pin. */
    signing: () => this.#call('GET', '/api/v2/keys/signing'),
    /** Register a client ML-KEM-768 public key (base64). */
    registerRecipient: (input: { keyId: string; publicKey: string }) => this.#call('POST', '/api/v2/keys/recipient', input),
  };

  /** The raw data-plane call. */
  readonly proxy = {
    /**
     * POST /api/v2/proxy/outbound and return the envelope unopened. `request_id` is generated
     * when absent; keep it (and, to bind the body too, the SHA-256 of the request) for decrypt.
     * Give each intended execution its own id: the proxy refuses a second run of the same bytes
     * where a SELECT that writes was rerun on the write pool (QS_ALREADY_RUN); a retry of a lost
     * answer must send the identical bytes to be recognised as one.
     */
    outbound: async (request: Omit<OutboundRequest, 'request_id'> & { request_id?: string }): Promise<HybridCryptoEnvelope> =>
      (await this.#call('POST', OUTBOUND_PATH, { ...request, request_id: request.request_id ?? newId('request') })) as unknown as HybridCryptoEnvelope,
  };

  /** Envelope verification with the client keys. */
  readonly encryption = {
    /**
     * Verify (ML-DSA-65 and HMAC-SHA-512, binding, freshness) and then open an envelope; throws
     * EnvelopeVerificationError on any failure. Without `requestSha256` the body binding is not checked.
     */
    decrypt: async (envelope: unknown, options: { requestId: string; requestSha256?: string; integrationId?: string }): Promise<unknown> => {
      const keys = this.#clientKeys;
      if (keys === undefined) throw new QsError('QS_CONFIG', 'encryption.decrypt needs clientKeys (or QUANTASEAL_CLIENT_KEYS)');
      return openEnvelope(envelope, {
        tenantId: keys.tenantId,
        requestId: options.requestId,
        ...(options.requestSha256 !== undefined ? { requestSha256: options.requestSha256 } : {}),
        ...(options.integrationId !== undefined ? { integrationId: options.integrationId } : {}),
        recipient: { keyId: keys.recipient.keyId, secretKey: keys.recipient.secretKey },
        signingKeys: keys.signingKeys,
        hmacKey: deriveResponseHmacKey(this.#apiKey, keys.tenantId),
      });
    },
    /** SHA-256 (hex) of exact request bytes, for `decrypt`'s `requestSha256`. */
    requestSha256: (body: Uint8Array | string) => createHash('sha256').update(body).digest('hex'),
  };

  /** The tenant's audit log (no PII, no parameter values). */
  readonly audit = {
    list: (filters: { integration_id?: string; after?: string; limit?: number } = {}) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filters)) if (v !== undefined) q.set(k, String(v));
      const qs = q.toString();
      return this.#call('GET', `/api/v2/audit${qs ? `?${qs}` : ''}`);
    },
  };

  constructor(options: QuantaSealOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    const keysSource = options.clientKeys ?? (env.QUANTASEAL_CLIENT_KEYS || undefined);
    const keys = keysSource === undefined ? undefined : loadClientKeys(keysSource);
    const apiKey = options.apiKey ?? (env.QUANTASEAL_API_KEY || undefined);
    if (apiKey === undefined) throw new QsError('QS_CONFIG', 'no API key: pass apiKey or set QUANTASEAL_API_KEY');
    const url = options.url ?? (env.QUANTASEAL_URL || undefined) ?? keys?.url;
    if (url === undefined) throw new QsError('QS_CONFIG', 'no proxy URL: pass url, set QUANTASEAL_URL or pass clientKeys');
    this.url = normalizeUrl(url);
    this.#apiKey = apiKey;
    this.#clientKeys = keys;
    this.#transport = options.transport ?? httpTransport(new URL(this.url).origin);
  }

  async #call(method: QsTransportRequest['method'], path: string, body?: unknown): Promise<JsonObject> {
    const req = postRequest({ url: this.url, apiKey: this.#apiKey }, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), undefined, method);
    let res;
    try {
      res = await this.#transport.request(req);
    } catch (err) {
      throw transportError({ url: this.url }, err);
    }
    if (res.status < 200 || res.status >= 300) throw plainError(res.status, res.body);
    if (res.body.length === 0) return {};
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new QsError('QS_TRANSPORT', `the QuantaSeal proxy answered ${method} ${path} with invalid JSON`);
    }
    if (typeof json === 'object' && json !== null && (json as { success?: unknown }).success === false) throw plainError(res.status, res.body);
    return json as JsonObject;
  }
}
