import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend } from '../../src/crypto/noble-backend.js';
import { createPqcleanBackend } from '../../src/crypto/pqclean-backend.js';

/**
 * Every backend that loads on this machine, by name. noble is always there; a pqclean variant
 * that cannot load is reported so a test run says what it did not cover.
 */
export function loadableBackends(): { backends: Array<[string, CryptoBackend]>; missing: string[] } {
  const backends: Array<[string, CryptoBackend]> = [['noble', createNobleBackend()]];
  const missing: string[] = [];
  for (const variant of ['native', 'wasm'] as const) {
    try {
      backends.push([`pqclean-${variant}`, createPqcleanBackend(variant)]);
    } catch (err) {
      missing.push(`pqclean-${variant}: ${(err as Error).message}`);
    }
  }
  return { backends, missing };
}
