import { performance } from 'node:perf_hooks';
import type { BackendBuild, BackendName, CryptoBackend } from './backend.js';
import { createNobleBackend } from './noble-backend.js';
import { createNodeBackend } from './node-backend.js';
import { createPqcleanBackend } from './pqclean-backend.js';

/** What `QS_CRYPTO_BACKEND` (or the `cryptoBackend` option) may say. */
export type BackendChoice = 'auto' | BackendName | BackendBuild;

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'noble', 'pqclean', 'pqclean-optimized', 'pqclean-native', 'pqclean-wasm', 'node'];

export interface CandidateReport {
  name: BackendName;
  detail: string;
  ok: boolean;
  /** Median ML-DSA-65 sign time measured during the self-test, in ms. */
  signMs?: number;
  error?: string;
}

export interface BackendSelection {
  backend: CryptoBackend;
  choice: BackendChoice;
  candidates: CandidateReport[];
}

type Factory = () => CryptoBackend;

/** Factories for a choice, in order of preference. `node` throws on runtimes without ML-KEM/ML-DSA (Node < 24.7). */
const factories: Record<Exclude<BackendChoice, 'auto'>, Factory[]> = {
  noble: [createNobleBackend],
  // quantaseal's optimized build first (about twice as fast to sign), then pqclean's own.
  pqclean: [() => createPqcleanBackend('optimized'), () => createPqcleanBackend('native'), () => createPqcleanBackend('wasm')],
  'pqclean-optimized': [() => createPqcleanBackend('optimized')],
  'pqclean-native': [() => createPqcleanBackend('native')],
  'pqclean-wasm': [() => createPqcleanBackend('wasm')],
  node: [createNodeBackend],
};

/** @internal adds a factory to a choice (an alternative build, a test double). */
export function registerBackendFactory(choice: 'node', factory: Factory): void {
  factories[choice].push(factory);
}

const seed32 = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const seed64 = Uint8Array.from({ length: 64 }, (_, i) => 255 - i * 3);
const message = new TextEncoder().encode('quantaseal backend self-test');
const selfTestContext = new TextEncoder().encode('quantaseal self-test context');

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/**
 * Cross-checks `candidate` against the reference implementation: same public keys from the same
 * seeds, signatures and KEM ciphertexts accepted in both directions, a tampered signature refused.
 * Throws with the first disagreement.
 */
export function selfTest(candidate: CryptoBackend, reference: CryptoBackend): void {
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${candidate.name} self-test failed: ${what}`);
  };
  check(equalBytes(candidate.dsaPublicKey(seed32), reference.dsaPublicKey(seed32)), 'ML-DSA-65 public key from seed');
  check(equalBytes(candidate.kemPublicKey(seed64), reference.kemPublicKey(seed64)), 'ML-KEM-768 public key from seed');
  const pk = reference.dsaPublicKey(seed32);
  const sig = candidate.dsaSign(seed32, message);
  check(reference.dsaVerify(pk, message, sig), 'reference verifies candidate signature');
  check(candidate.dsaVerify(pk, message, reference.dsaSign(seed32, message)), 'candidate verifies reference signature');
  const bad = Uint8Array.from(sig);
  bad[100] = (bad[100] ?? 0) ^ 1;
  check(!candidate.dsaVerify(pk, message, bad), 'candidate rejects a modified signature');
  const kpk = reference.kemPublicKey(seed64);
  const a = candidate.kemEncapsulate(kpk);
  check(equalBytes(reference.kemDecapsulate(seed64, a.cipherText), a.sharedSecret), 'reference decapsulates candidate ciphertext');
  const b = reference.kemEncapsulate(kpk);
  check(equalBytes(candidate.kemDecapsulate(seed64, b.cipherText), b.sharedSecret), 'candidate decapsulates reference ciphertext');
  // FIPS 203 implicit rejection: a modified ciphertext yields the same pseudorandom key in both.
  const tampered = Uint8Array.from(b.cipherText);
  tampered[0] = (tampered[0] ?? 0) ^ 1;
  check(equalBytes(candidate.kemDecapsulate(seed64, tampered), reference.kemDecapsulate(seed64, tampered)), 'implicit rejection as the reference');
  // A backend may refuse ML-DSA context strings (the pqclean package's binding does); one that
  // takes them must bind them into the signature exactly as the reference does.
  let withContext: Uint8Array | undefined;
  try {
    withContext = candidate.dsaSign(seed32, message, selfTestContext);
  } catch {
    withContext = undefined;
  }
  if (withContext !== undefined) {
    check(reference.dsaVerify(pk, message, withContext, selfTestContext), 'reference verifies candidate signature with a context');
    check(!reference.dsaVerify(pk, message, withContext), 'candidate binds the context into the signature');
  }
}

function measureSign(backend: CryptoBackend): number {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    backend.dsaSign(seed32, message);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return times[1] ?? times[0] ?? Number.POSITIVE_INFINITY;
}

function instantiate(factoryList: Factory[], reference: CryptoBackend, report: CandidateReport[], name: BackendName): CryptoBackend | null {
  for (const factory of factoryList) {
    try {
      const backend = factory();
      selfTest(backend, reference);
      report.push({ name: backend.name, detail: backend.detail, ok: true, signMs: measureSign(backend) });
      return backend;
    } catch (err) {
      report.push({ name, detail: 'unavailable', ok: false, error: (err as Error).message });
    }
  }
  return null;
}

/**
 * Picks the crypto backend: with `choice` other than "auto", exactly that one (failing loudly if it
 * does not load or disagrees with the reference); otherwise the fastest backend that passes the
 * self-test, with noble, the reference, as the floor.
 */
export function selectBackend(choice: BackendChoice = 'auto'): BackendSelection {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown crypto backend "${String(choice)}" (expected one of ${BACKEND_CHOICES.join(', ')})`);
  }
  const reference = createNobleBackend();
  const candidates: CandidateReport[] = [];
  if (choice !== 'auto') {
    const name: BackendName = choice.startsWith('pqclean') ? 'pqclean' : (choice as BackendName);
    const backend = choice === 'noble' ? reference : instantiate(factories[choice], reference, candidates, name);
    if (backend === null) {
      const why = candidates.map((c) => c.error).filter(Boolean).join('; ') || 'not available on this runtime';
      throw new Error(`crypto backend "${choice}" was requested but cannot be used: ${why}`);
    }
    return { backend, choice, candidates };
  }
  const working: Array<{ backend: CryptoBackend; signMs: number }> = [];
  for (const name of ['node', 'pqclean'] as const) {
    const backend = instantiate(factories[name], reference, candidates, name);
    const measured = candidates.at(-1);
    if (backend !== null && measured?.signMs !== undefined) working.push({ backend, signMs: measured.signMs });
  }
  const nobleMs = measureSign(reference);
  candidates.push({ name: 'noble', detail: reference.detail, ok: true, signMs: nobleMs });
  working.push({ backend: reference, signMs: nobleMs });
  working.sort((x, y) => x.signMs - y.signMs);
  return { backend: (working[0] ?? { backend: reference }).backend, choice, candidates };
}

let selected: BackendSelection | undefined;

/**
 * The process-wide backend, chosen once on first use from `QS_CRYPTO_BACKEND` (default "auto").
 */
export function getCryptoBackend(): CryptoBackend {
  return getBackendSelection().backend;
}

export function getBackendSelection(): BackendSelection {
  selected ??= selectBackend((process.env.QS_CRYPTO_BACKEND?.trim() || 'auto') as BackendChoice);
  return selected;
}

/** Replace the process-wide backend (CLI flag, tests). */
export function setCryptoBackend(choice: BackendChoice): BackendSelection {
  selected = selectBackend(choice);
  return selected;
}
