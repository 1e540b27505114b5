export type { BackendName, CryptoBackend, KemEncapsulation } from './backend.js';
export { ML_DSA_65, ML_KEM_768 } from './backend.js';
export { createNobleBackend } from './noble-backend.js';
export { createNodeBackend, probeNodeBackend } from './node-backend.js';
export { createPqcleanBackend, type PqcleanVariant } from './pqclean-backend.js';
export {
  BACKEND_CHOICES,
  getBackendSelection,
  getCryptoBackend,
  selectBackend,
  selfTest,
  setCryptoBackend,
  type BackendChoice,
  type BackendSelection,
  type CandidateReport,
} from './select-backend.js';
export * from './symmetric.js';
