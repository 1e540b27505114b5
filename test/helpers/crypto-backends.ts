import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend } from '../../src/crypto/noble-backend.js';
import { createNodeBackend } from '../../src/crypto/node-backend.js';
import { createPqcleanBackend } from '../../src/crypto/pqclean-backend.js';

/** Node's major version; the `node` backend needs >= 24 (24.7+, OpenSSL 3.5). */
export const nodeMajor = Number(process.versions.node.split('.')[0]);

/** On Node >= 24 the node:crypto backend must load; below, its absence is expected, not a gap. */
export const nodeBackendExpected = nodeMajor >= 24;

/**
 * Every backend that loads on this machine, by name. noble is always there; a pqclean variant or
 * the node:crypto backend that cannot load is reported in `missing` so a test run says what it did
 * not cover.
 */
export function loadableBackends(): { backends: Array<[string, CryptoBackend]>; missing: string[] } {
  const backends: Array<[string, CryptoBackend]> = [['noble', createNobleBackend()]];
  const missing: string[] = [];
  for (const variant of ['optimized', 'native', 'wasm'] as const) {
    try {
      backends.push([`pqclean-${variant}`, createPqcleanBackend(variant)]);
    } catch (err) {
      missing.push(`pqclean-${variant}: ${(err as Error).message}`);
    }
  }
  try {
    backends.push(['node', createNodeBackend()]);
  } catch (err) {
    missing.push(`node: ${(err as Error).message}`);
  }
  return { backends, missing };
}
