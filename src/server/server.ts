import type { FastifyInstance } from 'fastify';
import { setCryptoBackend } from '../crypto/select-backend.js';
import { buildApp } from './app.js';
import { AuditWriter } from './audit/audit-writer.js';
import { defaultConfig, type ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { Executor } from './executor/executor.js';
import { testLogin } from './executor/login-check.js';
import { loadOrCreateAdminToken } from './http/admin-token.js';
import { Metrics } from './http/metrics.js';
import { IntegrationService } from './integrations/integration-service.js';
import { RecipientKeyService } from './keys/recipient-keys.js';
import { loadSigningKey } from './keys/signing-keys.js';
import { TenantKeys } from './keys/tenant-keys.js';
import { openKms } from './kms/open-kms.js';
import { DataPlane } from './proxy/data-plane.js';
import { openStore } from './store/open-store.js';
import { TenantService } from './tenants/tenant-service.js';
import { BatchSigner } from './signing/batch-signer.js';
import { defaultSigningWorkers } from './signing/sign-pool.js';
import { createTokenization } from './tokenize/tokenization.js';
import { VaultService } from './vault/vault-service.js';

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** The base URL it listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Stops taking requests, closes sessions and pools, flushes the audit log, closes the store. */
  close(): Promise<void>;
}

/** Opens the store, KMS and keys, wires every service and returns the context (no listening). */
export async function createContext(config: ServerConfig): Promise<ServerContext> {
  const selection = setCryptoBackend(config.cryptoBackend);
  const { backend } = selection;
  const store = await openStore(config.store, config.storeSchema === undefined ? {} : { schema: config.storeSchema });
  let signer: BatchSigner | undefined;
  try {
    const kms = await openKms(config.kms, { dataDir: config.dataDir, awsEndpoint: config.awsKmsEndpoint });
    const signingKey = await loadSigningKey(store, kms, backend);
    const tenantKeys = new TenantKeys(store, kms, backend);
    const executor = new Executor();
    const vault = new VaultService(store, tenantKeys, backend, (dsn) => testLogin(dsn));
    const tokenization = createTokenization({ store, tenantKeys, vault, executor });
    const integrations = new IntegrationService(store, tokenization.checkCatalog);
    const recipients = new RecipientKeyService(store);
    const audit = new AuditWriter(store);
    const metrics = new Metrics();
    // Workers per QS_SIGNING_WORKERS (default: one core left to the event loop); inline if they cannot load.
    const signMs = selection.candidates.find((c) => c.ok && c.name === backend.name)?.signMs;
    signer = await BatchSigner.create({ backend, workers: defaultSigningWorkers(process.env, signMs) });
    const dataPlane = new DataPlane({ store, backend, signingKey, integrations, recipients, vault, audit, executor, metrics, tokenization, signer, pipelineAnswerLimit: config.pipelineAnswerLimit, encodeRows: config.encodeRows });
    return {
      config,
      store,
      kms,
      backend,
      signingKey,
      adminToken: loadOrCreateAdminToken(config.dataDir),
      tenants: new TenantService(store),
      tenantKeys,
      recipients,
      vault,
      integrations,
      audit,
      dataPlane,
      metrics,
      signer,
    };
  } catch (err) {
    await signer?.destroy();
    await store.close();
    throw err;
  }
}

/** `quantaseal serve`: everything above, listening. */
export async function startServer(overrides: Partial<ServerConfig> = {}, opts: { logger?: boolean } = {}): Promise<RunningServer> {
  const config = defaultConfig(overrides);
  const ctx = await createContext(config);
  const app = buildApp(ctx, opts);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    await ctx.dataPlane.close();
    await ctx.signer.destroy();
    await ctx.store.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const scheme = config.tls ? 'https' : 'http';
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    url: `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await ctx.dataPlane.close();
        await ctx.signer.destroy();
        await ctx.audit.flush();
        await ctx.store.close();
      })()),
  };
}
