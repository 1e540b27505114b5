import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * quantaseal's own build of PQClean's ML-DSA-65 and ML-KEM-768 (native/qs_pqc.c, built at install
 * by native/build.mjs with -O3, LTO and, on x86-64, the x86-64-v2 baseline). Same C code as the
 * pqclean package's addon, about twice as fast to sign; unlike that binding it takes FIPS 204
 * context strings.
 */
export interface OptimizedPqclean {
  mldsa65Sign(secretKey: Uint8Array, message: Uint8Array, context?: Uint8Array): Buffer;
  mldsa65Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context?: Uint8Array): boolean;
  mlkem768Encapsulate(publicKey: Uint8Array): { cipherText: Buffer; sharedSecret: Buffer };
  mlkem768Decapsulate(secretKey: Uint8Array, cipherText: Uint8Array): Buffer;
}

/** Where native/build.mjs leaves the addon: the same path from src/crypto (tsx) and dist/crypto. */
export const OPTIMIZED_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/qs_pqc.node', import.meta.url));

/**
 * The x86-64-v2 features (beyond x86-64's baseline) the compiler may use, as /proc/cpuinfo names
 * them: CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3 ("pni"), SSSE3, SSE4.1, SSE4.2.
 */
const X86_64_V2_FLAGS = ['cx16', 'lahf_lm', 'pni', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'];

/**
 * Why this CPU cannot run the x86-64 build, or null if it can. The build targets x86-64-v2 only on
 * Linux (binding.gyp); an older CPU would die of SIGILL inside the self-test rather than fall back.
 */
export function missingCpuFeatures(cpuinfo: string | undefined, arch: string = process.arch, platform: string = process.platform): string | null {
  if (arch !== 'x64' || platform !== 'linux') return null;
  if (cpuinfo === undefined) return 'cannot read /proc/cpuinfo to check for x86-64-v2';
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  const missing = X86_64_V2_FLAGS.filter((f) => !flags.has(f));
  return missing.length === 0 ? null : `this CPU lacks x86-64-v2 (${missing.join(', ')})`;
}

const require = createRequire(import.meta.url);

/** Loads the optimized addon; throws (the selector's "unavailable") if it was not built or cannot run here. */
export function loadOptimizedPqclean(file: string = OPTIMIZED_ADDON_PATH): OptimizedPqclean {
  if (!existsSync(file)) throw new Error('optimized PQClean build not present (npm run build:native)');
  let cpuinfo: string | undefined;
  try {
    cpuinfo = process.platform === 'linux' ? readFileSync('/proc/cpuinfo', 'utf8') : undefined;
  } catch {
    cpuinfo = undefined;
  }
  const unfit = missingCpuFeatures(cpuinfo);
  if (unfit !== null) throw new Error(`optimized PQClean build not usable: ${unfit}`);
  return require(file) as OptimizedPqclean;
}
