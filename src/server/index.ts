/**
 * `quantaseal/server`: run the proxy inside your own process, or build on its pieces.
 *
 * ```ts
 * import { startServer } from 'quantaseal/server';
 * const server = await startServer({ port: 8080, dataDir: '/var/lib/quantaseal' });
 * ```
 */
export { buildApp } from './app.js';
export { defaultConfig, type ServerConfig } from './config.js';
export type { ServerContext } from './context.js';
export { createContext, startServer, type RunningServer } from './server.js';
export { verifyChain, auditHasher, GENESIS_HASH, type ChainBreak } from './audit/audit-chain.js';
export { openStore, type OpenStoreOptions } from './store/open-store.js';
export type * from './store/store.js';
export { openKms, type OpenKmsOptions } from './kms/open-kms.js';
export type { KmsProvider } from './kms/kms.js';
