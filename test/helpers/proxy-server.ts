import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runInit } from '../../src/cli/commands-init.js';
import { sha256 } from '../../src/crypto/symmetric.js';
import { parseClientKeys, type ClientKeys } from '../../src/protocol/client-keys.js';
import { openEnvelope, type HybridCryptoEnvelope } from '../../src/protocol/envelope.js';
import { newId } from '../../src/protocol/ids.js';
import { deriveResponseHmacKey } from '../../src/protocol/keys.js';
import { decodeBinaryEnvelope, isBinaryEnvelopeType } from '../../src/protocol/wire-envelope.js';
import type { OutboundResponsePayload } from '../../src/protocol/wire.js';
import type { ServerConfig } from '../../src/server/config.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseUrl } from './pg.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data dir. */
  dispose(): Promise<void>;
}

/** A real server on 127.0.0.1:0 with its own data dir (SQLite store, local KMS unless told). */
export async function startTestServer(overrides: Partial<ServerConfig> = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(tmpdir(), 'qs-test-'));
  const server = await startServer({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', ...overrides }, { logger: false });
  return {
    ...server,
    dataDir,
    dispose: async () => {
      await server.close();
      if (overrides.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Tenant {
  url: string;
  tenantId: string;
  apiKey: string;
  integrationId: string;
  credentialId: string;
  clientKeys: ClientKeys;
  clientKeysPath: string;
}

/** `quantaseal init` against the server: tenant, key, recipient key, sealed DSN, integration. */
export async function provisionTenant(
  server: TestServer,
  opts: { allow: string[]; dsn?: string; tokenization?: unknown; name?: string; verify?: boolean } = { allow: ['query', 'execute', 'transaction'] },
): Promise<Tenant> {
  const keysOut = path.join(server.dataDir, `client-keys-${newId('request')}.json`);
  const r = await runInit({
    url: server.url,
    adminToken: server.ctx.adminToken,
    dsn: opts.dsn ?? databaseUrl(),
    allow: opts.allow,
    tenantName: opts.name ?? 'test',
    keysOut,
    tokenization: opts.tokenization,
    verify: opts.verify,
  });
  return {
    url: r.url,
    tenantId: r.tenant_id,
    apiKey: r.api_key,
    integrationId: r.integration_id,
    credentialId: r.credential_id,
    clientKeys: parseClientKeys(JSON.parse(readFileSync(keysOut, 'utf8'))),
    clientKeysPath: keysOut,
  };
}

export interface OutboundAnswer {
  status: number;
  envelope?: HybridCryptoEnvelope;
  plain?: { success: false; error: { code: string; message: string } };
  payload?: OutboundResponsePayload;
  /** The answer's Content-Type (JSON, or the binary envelope form when `accept` asked for it). */
  contentType?: string;
}

/**
 * One raw proxy call and its verified, opened answer — a minimal independent client, so the
 * server's tests do not depend on the driver.
 */
export async function outbound(
  tenant: Tenant,
  body: { operation: string; payload: unknown; session_id?: string | null; integration_id?: string; request_id?: string },
  opts: { apiKey?: string; accept?: string } = {},
): Promise<OutboundAnswer> {
  return envelopeCall(tenant, '/api/v2/proxy/outbound', { integration_id: tenant.integrationId, request_id: newId('request'), ...body }, opts) as Promise<OutboundAnswer>;
}

/** A raw POST /api/v2/proxy/pipeline and its verified, opened answer (one payload per call). */
export async function pipeline(
  tenant: Tenant,
  calls: Array<{ operation: string; payload: unknown } & Record<string, unknown>>,
  opts: { apiKey?: string; accept?: string; integrationId?: string; requestId?: string } = {},
): Promise<OutboundAnswer & { answers?: Array<OutboundResponsePayload & { audit_event_id: string }> }> {
  const r = await envelopeCall(tenant, '/api/v2/proxy/pipeline', { integration_id: opts.integrationId ?? tenant.integrationId, request_id: opts.requestId ?? newId('request'), calls }, opts);
  return { ...r, answers: (r.payload as { pipeline?: Array<OutboundResponsePayload & { audit_event_id: string }> } | undefined)?.pipeline };
}

async function envelopeCall(
  tenant: Tenant,
  route: string,
  request: { integration_id: string; request_id: string } & Record<string, unknown>,
  opts: { apiKey?: string; accept?: string },
): Promise<OutboundAnswer> {
  const raw = Buffer.from(JSON.stringify(request));
  const res = await fetch(`${tenant.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': opts.apiKey ?? tenant.apiKey, ...(opts.accept ? { accept: opts.accept } : {}) },
    body: raw,
  });
  const contentType = res.headers.get('content-type') ?? '';
  const bytes = Buffer.from(await res.arrayBuffer());
  const binary = isBinaryEnvelopeType(contentType) ? decodeBinaryEnvelope(bytes) : null;
  const json = binary ? { ...binary.header, encrypted: { ...(binary.header.encrypted as object), ciphertext_data: binary.ciphertextData.toString('base64') } } : (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>);
  if (!('encrypted' in json)) return { status: res.status, plain: json as OutboundAnswer['plain'], contentType };
  const envelope = json as unknown as HybridCryptoEnvelope;
  const payload = (await openEnvelope(binary ? bytes : envelope, {
    tenantId: tenant.tenantId,
    requestId: request.request_id,
    requestSha256: sha256(raw).toString('hex'),
    integrationId: request.integration_id,
    recipient: tenant.clientKeys.recipient,
    signingKeys: tenant.clientKeys.signingKeys,
    hmacKey: deriveResponseHmacKey(opts.apiKey ?? tenant.apiKey, tenant.tenantId),
  })) as OutboundResponsePayload;
  return { status: res.status, envelope, payload, contentType };
}

/** Plain JSON call with a tenant's key (or none), for control-plane tests. */
export async function api(url: string, method: string, route: string, opts: { apiKey?: string; adminToken?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined || opts.rawBody !== undefined) headers['content-type'] ??= 'application/json';
  if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
  if (opts.adminToken) headers['x-admin-token'] = opts.adminToken;
  const res = await fetch(`${url}${route}`, { method, headers, body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { error?: { code: string; message: string } } };
}
