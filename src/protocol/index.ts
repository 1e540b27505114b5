/**
 * `quantaseal/protocol`: the wire contract both the proxy and the driver import — envelope
 * sealing and opening, key generation, ids, error codes and request/payload types.
 */
export * from './bytes.js';
export * from './client-keys.js';
export * from './decapsulation-cache.js';
export * from './envelope.js';
export * from './error-codes.js';
export * from './errors.js';
export * from './ids.js';
export * from './keys.js';
export * from './merkle-root-cache.js';
export * from './merkle-seal.js';
export * from './merkle.js';
export * from './wire-envelope.js';
export * from './wire.js';
