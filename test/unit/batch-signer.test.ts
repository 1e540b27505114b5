import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend, nobleDeterministic } from '../../src/crypto/noble-backend.js';
import { createPqcleanBackend } from '../../src/crypto/pqclean-backend.js';
import { openEnvelope, sealEnvelope, type HybridCryptoEnvelope, type OpenEnvelopeOptions, type SealEnvelopeInput } from '../../src/protocol/envelope.js';
import { MerkleRootCache } from '../../src/protocol/merkle-root-cache.js';
import { BatchSigner } from '../../src/server/signing/batch-signer.js';
import { selectBackend } from '../../src/crypto/select-backend.js';
import { createSignPool, defaultSigningWorkers } from '../../src/server/signing/sign-pool.js';
import { envelopeFixture, type EnvelopeFixture } from '../helpers/envelope-fixture.js';

/** noble with every ML-DSA call counted. */
function spyBackend(inner: CryptoBackend = createNobleBackend()) {
  const calls = { sign: 0, verify: 0 };
  const backend: CryptoBackend = {
    ...inner,
    dsaSign: (seed, msg, ctx) => {
      calls.sign++;
      return inner.dsaSign(seed, msg, ctx);
    },
    dsaVerify: (pk, msg, sig, ctx) => {
      calls.verify++;
      return inner.dsaVerify(pk, msg, sig, ctx);
    },
  };
  return { backend, calls };
}

const signers: BatchSigner[] = [];
afterEach(async () => {
  await Promise.all(signers.splice(0).map((s) => s.destroy()));
});
async function signer(...args: Parameters<typeof BatchSigner.create>): Promise<BatchSigner> {
  const s = await BatchSigner.create(...args);
  signers.push(s);
  return s;
}

/** The fixture's input under request id `req_<i>`, with the open options that go with it. */
function request(fx: EnvelopeFixture, i: number): { input: SealEnvelopeInput; open: OpenEnvelopeOptions } {
  const requestId = `req_${i}`;
  return {
    input: { ...fx.sealInput, payload: { i }, context: { ...fx.sealInput.context, request_id: requestId } },
    open: { ...fx.openOptions, requestId },
  };
}

/** `n` seals started at once on an inline signer over a counting noble backend. */
async function sealBurst(n: number) {
  const spy = spyBackend();
  const fx = await envelopeFixture(spy.backend);
  const s = await signer({ backend: spy.backend, workers: 0 });
  const reqs = Array.from({ length: n }, (_, i) => request(fx, i));
  const envs = await Promise.all(reqs.map((r) => s.seal(r.input)));
  return { spy, s, reqs, envs };
}

describe('BatchSigner (inline)', () => {
  it('idle: signs at once, in exactly the single format sealEnvelope makes', async () => {
    const spy = spyBackend();
    const fx = await envelopeFixture(spy.backend);
    const s = await signer({ backend: spy.backend, workers: 0 });
    const pending = s.seal(fx.sealInput);
    // No timer: the signature starts at the end of this turn of the event loop (setImmediate).
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(spy.calls.sign).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(spy.calls.sign).toBe(1);
    const env = await pending;
    expect(env.signature).not.toHaveProperty('merkle');
    expect(s.stats()).toEqual({ envelopes: 1, signatures: 1, largestBatch: 1 });

    // Byte for byte: same clock, nonce and deterministic signing as sealEnvelope.
    const det: CryptoBackend = { ...createNobleBackend(), kemEncapsulate: (pk) => nobleDeterministic.kemEncapsulate(pk, Buffer.alloc(32, 1)), dsaSign: (sd, m) => nobleDeterministic.dsaSign(sd, m) };
    const pin = { now: () => new Date('2026-11-29T04:00:00.000Z'), randomBytes: () => Buffer.alloc(12, 2) };
    const viaSigner = await (await signer({ backend: det, workers: 0 })).seal(fx.sealInput, pin);
    expect(JSON.stringify(viaSigner)).toBe(JSON.stringify(await sealEnvelope(fx.sealInput, { backend: det, ...pin })));
  });

  it('a burst of concurrent seals costs fewer ML-DSA signatures than envelopes, and every one opens alone', async () => {
    const { spy, s, reqs, envs } = await sealBurst(40);
    const { signatures, envelopes } = s.stats();
    expect(envelopes).toBe(40);
    expect(spy.calls.sign).toBe(signatures);
    // All 40 reached the signer in one turn of the event loop: one batch, one signature.
    expect(signatures).toBe(1);
    expect(envs.every((e) => e.signature.merkle?.size === 40)).toBe(true);

    // Without a cache: each envelope verifies on its own (one ML-DSA verify each).
    spy.calls.verify = 0;
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, { ...reqs[i]!.open, backend: spy.backend })).resolves.toEqual({ i });
    expect(spy.calls.verify).toBe(40);

    // With a cache: one verify per signature (batch), not per envelope.
    spy.calls.verify = 0;
    const rootCache = new MerkleRootCache();
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, { ...reqs[i]!.open, backend: spy.backend, rootCache })).resolves.toEqual({ i });
    expect(spy.calls.verify).toBe(signatures);
  });

  it('the root cache makes the second envelope of a batch skip ML-DSA verify, not the HMAC', async () => {
    const { spy, reqs, envs } = await sealBurst(4);
    const batched = envs.map((e, i) => [e, reqs[i]!] as const).filter(([e]) => e.signature.merkle !== undefined);
    expect(batched.length).toBeGreaterThanOrEqual(2);
    const rootCache = new MerkleRootCache();
    const seen: string[] = [];
    const listener = (m: unknown) => seen.push((m as { check: string }).check);
    subscribe('quantaseal:envelope:check', listener);
    try {
      spy.calls.verify = 0;
      await openEnvelope(batched[0]![0], { ...batched[0]![1].open, backend: spy.backend, rootCache });
      expect(spy.calls.verify).toBe(1);
      await openEnvelope(batched[1]![0], { ...batched[1]![1].open, backend: spy.backend, rootCache });
      expect(spy.calls.verify).toBe(1);
      expect(seen).toEqual(['ml-dsa-65', 'hmac-sha-512', 'ml-dsa-65-root-cache', 'hmac-sha-512']);
    } finally {
      unsubscribe('quantaseal:envelope:check', listener);
    }
    // A cached root does not excuse a bad HMAC.
    const badHmac = structuredClone(batched[1]![0]);
    const h = Buffer.from(badHmac.signature.hmac_signature, 'base64');
    h[0] = (h[0] as number) ^ 1;
    badHmac.signature.hmac_signature = h.toString('base64');
    await expect(openEnvelope(badHmac, { ...batched[1]![1].open, backend: spy.backend, rootCache })).rejects.toThrow('verification failed');
  });

  it('batching off signs every envelope alone; maxBatch caps a batch', async () => {
    const fx = await envelopeFixture();
    const off = await signer({ backend: fx.openOptions.backend!, workers: 0, batching: false });
    const offEnvs = await Promise.all(Array.from({ length: 6 }, (_, i) => off.seal(request(fx, i).input)));
    expect(off.stats().signatures).toBe(6);
    expect(offEnvs.every((e) => e.signature.merkle === undefined)).toBe(true);

    const capped = await signer({ backend: fx.openOptions.backend!, workers: 0, maxBatch: 4 });
    const envs = await Promise.all(Array.from({ length: 13 }, (_, i) => capped.seal(request(fx, i).input)));
    expect(capped.stats().largestBatch).toBe(4);
    expect(Math.max(...envs.map((e) => e.signature.merkle?.size ?? 1))).toBe(4);
    expect(() => new BatchSigner({} as never, { backend: fx.openOptions.backend!, maxBatch: 0 })).toThrow(RangeError);
  });

  it('destroy waits for envelopes in flight; sealing afterwards is refused', async () => {
    const fx = await envelopeFixture();
    const s = await BatchSigner.create({ backend: fx.openOptions.backend!, workers: 0 });
    const pending = Array.from({ length: 5 }, (_, i) => s.seal(request(fx, i).input));
    // Let them reach the queue before closing.
    await new Promise((r) => setImmediate(r));
    await s.destroy();
    expect((await Promise.all(pending)).length).toBe(5);
    await expect(s.seal(fx.sealInput)).rejects.toThrow('shut down');
  });
});

describe('BatchSigner on worker threads', () => {
  it('names each backend by the exact build a worker loads it by', () => {
    // Every choice that loads here: its backend's build loads that same implementation again.
    for (const choice of ['noble', 'pqclean-optimized', 'pqclean-native', 'pqclean-wasm', 'node'] as const) {
      let backend: CryptoBackend;
      try {
        backend = selectBackend(choice).backend;
      } catch {
        continue; // not on this machine (node needs Node >= 24.7)
      }
      expect(backend.build).toBe(choice);
      expect(selectBackend(backend.build).backend.detail).toBe(backend.detail);
    }
    expect(selectBackend('pqclean').backend.build).toMatch(/^pqclean-(optimized|native|wasm)$/);
    expect(defaultSigningWorkers({ QS_SIGNING_WORKERS: '0' })).toBe(0);
    expect(defaultSigningWorkers({})).toBeGreaterThanOrEqual(1);
    expect(() => defaultSigningWorkers({ QS_SIGNING_WORKERS: 'two' })).toThrow('QS_SIGNING_WORKERS');
    // Fast signing stays on the loop; slow signing (noble) leaves it; the variable wins over both.
    expect(defaultSigningWorkers({}, 0.5)).toBe(0);
    expect(defaultSigningWorkers({}, 12)).toBeGreaterThanOrEqual(1);
    expect(defaultSigningWorkers({ QS_SIGNING_WORKERS: '1' }, 0.5)).toBe(1);
  });

  it('loads the worker from source (vitest), signs there, and its envelopes open', async () => {
    const fx = await envelopeFixture();
    const fallbacks: string[] = [];
    const s = await signer({ backend: fx.openOptions.backend!, workers: 1, kemInWorkers: true, onFallback: (r) => fallbacks.push(r) });
    expect(fallbacks).toEqual([]);
    expect(s.mode).toEqual({ mode: 'workers', threads: 1, fallbackReason: undefined });
    const reqs = Array.from({ length: 12 }, (_, i) => request(fx, i));
    const envs: HybridCryptoEnvelope[] = await Promise.all(reqs.map((r) => s.seal(r.input)));
    expect(s.stats().signatures).toBeLessThan(12);
    const rootCache = new MerkleRootCache();
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, { ...reqs[i]!.open, rootCache })).resolves.toEqual({ i });
  });

  it('loads the optimized PQClean build in a signing worker, which signs what noble then verifies', async () => {
    const fx = await envelopeFixture(createPqcleanBackend('optimized'));
    const fallbacks: string[] = [];
    const s = await signer({ backend: fx.openOptions.backend!, workers: 1, onFallback: (r) => fallbacks.push(r) });
    expect(fallbacks).toEqual([]);
    expect(s.mode.mode).toBe('workers');
    const reqs = Array.from({ length: 4 }, (_, i) => request(fx, i));
    const envs = await Promise.all(reqs.map((r) => s.seal(r.input)));
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, { ...reqs[i]!.open, backend: createNobleBackend() })).resolves.toEqual({ i });
  });

  it('falls back to inline signing, and says why, when the worker cannot load', async () => {
    const fx = await envelopeFixture();
    const fallbacks: string[] = [];
    const pool = await createSignPool({ backend: fx.openOptions.backend!, workers: 1, workerFile: new URL('./no-such-worker.js', import.meta.url), onFallback: (r) => fallbacks.push(r), startTimeoutMs: 10_000 });
    expect(pool.mode).toBe('inline');
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/signing inline: the signing worker did not load/);
    expect(pool.fallbackReason).toBe(fallbacks[0]);
    const s = new BatchSigner(pool, { backend: fx.openOptions.backend! });
    signers.push(s);
    await expect(openEnvelope(await s.seal(fx.sealInput), fx.openOptions)).resolves.toEqual(fx.sealInput.payload);
  });

  it('signs inline rather than on a worker that loaded another implementation than the one checked', async () => {
    const fallbacks: string[] = [];
    // A backend that claims another build than its own: the worker would load that build instead.
    const pool = await createSignPool({ backend: { ...createNobleBackend(), build: 'pqclean-wasm' }, workers: 1, onFallback: (r) => fallbacks.push(r) });
    expect(pool.mode).toBe('inline');
    expect(fallbacks[0]).toMatch(/the worker loaded pqclean \(pqclean-wasm\), not noble \(pqclean-wasm\)/);
  });
});
