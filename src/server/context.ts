import type { CryptoBackend } from '../crypto/backend.js';
import type { AuditWriter } from './audit/audit-writer.js';
import type { ServerConfig } from './config.js';
import type { Metrics } from './http/metrics.js';
import type { IntegrationService } from './integrations/integration-service.js';
import type { RecipientKeyService } from './keys/recipient-keys.js';
import type { ActiveSigningKey } from './keys/signing-keys.js';
import type { TenantKeys } from './keys/tenant-keys.js';
import type { KmsProvider } from './kms/kms.js';
import type { Store } from './store/store.js';
import type { TenantService } from './tenants/tenant-service.js';
import type { VaultService } from './vault/vault-service.js';
import type { DataPlane } from './proxy/data-plane.js';
import type { BatchSigner } from './signing/batch-signer.js';

/** Every long-lived service of one server instance; routes receive this and nothing global. */
export interface ServerContext {
  config: ServerConfig;
  store: Store;
  kms: KmsProvider;
  backend: CryptoBackend;
  signingKey: ActiveSigningKey;
  adminToken: string;
  tenants: TenantService;
  tenantKeys: TenantKeys;
  recipients: RecipientKeyService;
  vault: VaultService;
  integrations: IntegrationService;
  audit: AuditWriter;
  dataPlane: DataPlane;
  metrics: Metrics;
  /** Seals every proxy answer (DESIGN §8 batch signing, worker pool); destroyed on close. */
  signer: BatchSigner;
}
